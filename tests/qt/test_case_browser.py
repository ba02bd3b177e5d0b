import numpy as np
import pytest
from napari.components import ViewerModel
from napari.layers import Image, Labels
from qtpy.QtWidgets import QPushButton

from medview.core.labels import preset
from medview.io import write_scan
from medview.qt.widgets.annotation_panel import CASE_KEY, AnnotationPanel
from medview.qt.widgets.case_browser import CaseBrowser
from medview.workspace import Workspace, read_class

pytestmark = pytest.mark.gui


@pytest.fixture
def workspace_with_scans(tmp_path, small_ct):
    scans = tmp_path / "scans"
    for name in ("a", "b", "c"):
        write_scan(small_ct.scan, scans / f"{name}.nii.gz")
    Workspace.create(tmp_path / "ws").close()
    return tmp_path / "ws", scans


def _browser_with_imported_scans(qtbot, directory, scans) -> tuple[ViewerModel, CaseBrowser]:
    """A Cases panel on ``directory`` after importing the three scans of ``scans``."""
    viewer = ViewerModel()
    browser = CaseBrowser(viewer)
    qtbot.addWidget(browser)
    browser.open_workspace(directory)
    browser.import_folder(scans)
    qtbot.waitUntil(lambda: len(browser.rows) == 3, timeout=20000)
    return viewer, browser


def test_import_open_next_annotate_and_mark_done(qtbot, workspace_with_scans):
    directory, scans = workspace_with_scans
    viewer = ViewerModel()
    browser = CaseBrowser(viewer)
    panel = AnnotationPanel(viewer)
    qtbot.addWidget(browser)
    qtbot.addWidget(panel)
    browser.open_workspace(directory)
    assert browser.rows == []
    browser.import_folder(scans)
    qtbot.waitUntil(lambda: len(browser.rows) == 3, timeout=20000)
    assert browser.rows == [("a", "unlabelled", "0"), ("b", "unlabelled", "0"), ("c", "unlabelled", "0")]

    browser.open_next_unlabelled()
    qtbot.waitUntil(lambda: browser.current is not None, timeout=20000)
    labels = viewer.layers.selection.active
    assert isinstance(labels, Labels) and labels.metadata[CASE_KEY]["case_id"] == "a"
    assert any(isinstance(layer, Image) for layer in viewer.layers)
    assert panel.layer is labels
    panel._labels._preset.setCurrentText("liver-lesion")
    panel._labels._use_preset()
    panel.editor.paint((20, 32, 32), 10.0, 1, plane_axis=0)
    panel.save()
    qtbot.waitUntil(lambda: not panel.task_bar.busy)
    browser.refresh()
    assert browser.rows[0] == ("a", "in progress", "1")
    browser.set_status("done")
    assert browser.rows[0] == ("a", "done", "1")

    browser.open_next_unlabelled()
    qtbot.waitUntil(lambda: browser.current.id == "b", timeout=20000)
    assert len(viewer.layers) == 2  # the previous case's layers were closed
    # a new case starts empty with the workspace's label table
    assert not viewer.layers.selection.active.data.any()
    assert panel.editor.label_map.labels == preset("liver-lesion")

    with Workspace.open(directory) as workspace:
        saved = workspace.latest_labels("a")
    assert np.count_nonzero(saved.array) > 0 and saved.provenance.source == "user"


def test_reopening_a_case_shows_its_newest_version(qtbot, workspace_with_scans):
    directory, scans = workspace_with_scans
    viewer, browser = _browser_with_imported_scans(qtbot, directory, scans)
    with Workspace.open(directory) as workspace:
        case = workspace.case("b")
    browser.open_case(case)
    qtbot.waitUntil(lambda: browser.current is not None, timeout=20000)
    layer = viewer.layers.selection.active
    layer.data[3, 3, 3] = 2
    with Workspace.open(directory) as workspace:
        from medview.qt.bridge import label_map_from_layer

        workspace.save_labels("b", label_map_from_layer(layer))
    browser.open_case(case)
    qtbot.waitUntil(lambda: viewer.layers.selection.active is not layer, timeout=20000)
    assert viewer.layers.selection.active.data[3, 3, 3] == 2


def test_the_open_case_gets_a_class_a_classifier_can_train_on(qtbot, tmp_path):
    from qtpy.QtCore import Qt

    from medview.demo import make_radiograph
    from medview.models.registry import Registry
    from medview.training.objectives import objective_for

    with Workspace.create(tmp_path / "ws") as workspace:
        case = workspace.add_case(write_scan(make_radiograph(3, (64, 64)).scan, tmp_path / "patch.nii.gz"))
    registry = Registry.discover()
    browser = CaseBrowser(ViewerModel(), registry=registry)
    qtbot.addWidget(browser)
    browser.open_workspace(tmp_path / "ws")
    texts = [browser._classes.itemText(i) for i in range(browser._classes.count())]
    assert texts == ["no nodule (patch-classifier)", "nodule (patch-classifier)"]

    browser.open_case(case)
    qtbot.waitUntil(lambda: browser.current is not None, timeout=20_000)
    browser._classes.setCurrentIndex(1)
    set_class = next(b for b in browser.findChildren(QPushButton) if b.text() == "Set class of case")
    qtbot.mouseClick(set_class, Qt.MouseButton.LeftButton)

    assert browser.rows == [("patch", "done", "0")]
    with Workspace.open(tmp_path / "ws") as workspace:
        (version,) = workspace.annotations(case.id, "class")
        assert read_class(version.path) == "nodule"
    choices = objective_for(registry.get("patch-classifier")).choices(tmp_path / "ws")
    assert [(c.case_id, c.detail) for c in choices] == [("patch", "class v1")]


def test_a_case_whose_scan_is_damaged_is_told_in_a_dialog_naming_it(qtbot, workspace_with_scans, dialogs):
    directory, scans = workspace_with_scans
    viewer, browser = _browser_with_imported_scans(qtbot, directory, scans)
    with Workspace.open(directory) as workspace:
        case = workspace.cases()[0]
    case.path.write_bytes(case.path.read_bytes()[:400])  # cut off after the header

    browser.open_case(case)
    qtbot.waitUntil(lambda: not browser.task_bar.busy, timeout=20000)

    ((kind, title, text),) = dialogs
    assert kind == "critical" and title == f"Could not open case {case.id}"
    assert text.startswith(f"{case.path}: ") and browser.current is None and len(viewer.layers) == 0
