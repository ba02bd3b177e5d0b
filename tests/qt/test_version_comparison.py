"""Old version against new in the metrics panel: the widget alone, and the whole loop from the window.

The end-to-end test is the issue's "done when": press Train in the training panel, and the metrics
panel shows the new version against its base on the run's validation cases.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parents[1] / "training"))
from training_fixtures import TINY_MODEL, make_fine_tuned_version, make_plugin_folder, make_workspace  # noqa: E402

from medview.models.registry import PLUGIN_PATH_ENV  # noqa: E402
from medview.training import versions  # noqa: E402
from medview.training.compare import compare_versions  # noqa: E402
from medview.workspace import Workspace  # noqa: E402

pytestmark = pytest.mark.gui
RUN_TIMEOUT_MS = 120_000


@pytest.fixture
def workspace(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv(PLUGIN_PATH_ENV, str(make_plugin_folder(tmp_path / "plugins")))
    return make_workspace(tmp_path / "workspace")


def test_compare_button_shows_each_validation_case_and_the_verdict(qtbot, workspace: Path, tmp_path: Path):
    from medview.qt.widgets.task_bar import TaskBar
    from medview.qt.widgets.version_comparison import VersionComparisonView

    folder = make_fine_tuned_version(workspace, tmp_path / "plugins")
    with Workspace.open(workspace) as opened:
        held_out = [case.id for case in opened.cases()[:2]]
    card = json.loads((folder / versions.MODEL_CARD).read_text())
    card["data"] = {"training": {}, "validation": dict.fromkeys(held_out, "sha")}
    (folder / versions.MODEL_CARD).write_text(json.dumps(card))
    view = VersionComparisonView(TaskBar())
    qtbot.addWidget(view)
    view.set_workspace(workspace)
    assert view.versions.currentText() == f"{TINY_MODEL} 0.1.0+ft1" and view.compare_button.isEnabled()

    from qtpy.QtCore import Qt

    qtbot.mouseClick(view.compare_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: view.result is not None, timeout=60_000)

    expected = compare_versions(workspace, TINY_MODEL, "0.1.0+ft1")
    assert view.rows() == [
        [c.case, f"{c.old:.4f}", f"{c.new:.4f}", f"{c.difference:+.4f}"] for c in expected.overall.cases
    ]
    assert [row[0] for row in view.rows()] == held_out
    assert expected.overall.describe() in view.summary.text()
    assert view.table.horizontalHeaderItem(2).text() == "dice 0.1.0+ft1"
    assert len(view.plot.axes.get_lines()) == len(held_out) + 1  # one per case and the mean


def test_training_from_the_window_ends_with_the_comparison_in_the_metrics_panel(qtbot, workspace: Path):
    from qtpy.QtCore import Qt

    from medview.qt.app import MainWindow

    window = MainWindow()
    qtbot.addWidget(window)
    window.show()
    training, metrics = window.panels["Train"], window.panels["Metrics"]
    training.set_workspace(workspace)
    training._model.setCurrentIndex(training._model.findData(TINY_MODEL))
    training.set_budget(2, "epochs")

    with qtbot.waitSignal(training.version_published, timeout=RUN_TIMEOUT_MS):
        qtbot.mouseClick(training._start, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: metrics.versions.result is not None, timeout=60_000)

    result = metrics.versions.result
    card = versions.find_version(workspace, TINY_MODEL, "0.1.0+ft1").card
    assert (result.old_version, result.new_version) == ("0.1.0", "0.1.0+ft1")
    assert [case.case for case in result.overall.cases] == list(card["data"]["validation"])
    # the validation Dice the run recorded is the one the comparison measures through the plugin
    assert result.overall.new.value == pytest.approx(card["metrics_after"]["dice"], abs=0.02)
    assert metrics.versions.summary.text().startswith(f"{TINY_MODEL} 0.1.0 → 0.1.0+ft1: dice")
    assert not metrics.visibleRegion().isEmpty()  # the metrics tab was raised to show it
    window.close()


@pytest.fixture
def open_new_case(qtbot, workspace: Path, tmp_path: Path):
    """A shown main window training ``tiny-ct`` in the workspace, with a new unlabelled case added and
    opened for annotation; returns the window and the case."""
    from training_fixtures import TINY_SHAPE

    from medview.demo import make_ct
    from medview.io import write_scan
    from medview.qt.app import MainWindow
    from medview.qt.widgets.annotation_panel import CASE_KEY

    scan_path = write_scan(make_ct(11, TINY_SHAPE, domain="shifted").scan, tmp_path / "new-patient.nii.gz")
    with Workspace.open(workspace) as opened:
        case = opened.add_case(scan_path)
    window = MainWindow()
    qtbot.addWidget(window)
    window.show()
    browser, annotate, training = window.panels["Cases"], window.panels["Annotate"], window.panels["Train"]
    browser.open_workspace(workspace)
    training.set_workspace(workspace)
    training._model.setCurrentIndex(training._model.findData(TINY_MODEL))
    assert training._cases.count() == 3
    browser.open_case(case)
    qtbot.waitUntil(
        lambda: annotate.layer is not None and CASE_KEY in annotate.layer.metadata, timeout=20_000
    )
    yield window, case
    window.close()


def test_the_open_scans_saved_slices_join_the_training_cases(qtbot, workspace: Path, open_new_case):
    """Paint two slices of the open case and save: the Train panel offers its annotated slices."""
    import numpy as np

    window, case = open_new_case
    annotate, training = window.panels["Annotate"], window.panels["Train"]

    annotate.layer.data[10:12, 15:25, 15:25] = 3  # "liver" in the demo label table
    with qtbot.waitSignal(annotate.saved_to_workspace, timeout=20_000):
        annotate.save()

    texts = [training._cases.item(i).text() for i in range(training._cases.count())]
    assert texts[-1] == "new-patient (in progress, annotated slices only, labels v1)"
    with Workspace.open(workspace) as opened:
        saved = opened.latest_labels(case.id).array
    assert np.flatnonzero(saved.reshape(len(saved), -1).any(axis=1)).tolist() == [10, 11]


def test_start_saves_the_open_cases_new_strokes_so_they_train(qtbot, workspace: Path, open_new_case):
    """Paint on the open case and press Start without saving: the strokes are saved, then the run starts."""
    from qtpy.QtCore import Qt

    window, case = open_new_case
    annotate, training = window.panels["Annotate"], window.panels["Train"]
    training._cases.item(0).setCheckState(Qt.CheckState.Unchecked)  # the user leaves one case out
    training.set_budget(500, "epochs")
    assert annotate.unsaved_case() is None
    annotate.editor.paint((12, 20, 20), 30.0, 3, plane_axis=0)  # "liver" in the demo label table
    assert annotate.unsaved_case() == (str(workspace), case.id)

    qtbot.mouseClick(training._start, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: training.running, timeout=30_000)

    assert annotate.unsaved_case() is None
    ticked = [
        training._cases.item(i).text()
        for i in range(training._cases.count())
        if training._cases.item(i).checkState() == Qt.CheckState.Checked
    ]
    assert len(ticked) == 3 and ticked[-1].startswith("new-patient (in progress")
    training.stop()
    qtbot.waitUntil(lambda: not training.running, timeout=60_000)
