"""Old version against new in the metrics panel: the widget alone, and the whole loop from the window.

The end-to-end test is the issue's "done when": press Train in the training panel, and the metrics
panel shows the new version against its base on the workspace's test cases. With fewer cases than a
paired bootstrap interval needs, the view draws no interval and says there is no verdict.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parents[1] / "training"))
from training_fixtures import TINY_MODEL, make_fine_tuned_version, make_plugin_folder, make_workspace  # noqa: E402

from medview.metrics.paired import MIN_CASES_FOR_INTERVAL, compare_paired  # noqa: E402
from medview.models.registry import PLUGIN_PATH_ENV  # noqa: E402
from medview.training import versions  # noqa: E402
from medview.training.compare import VALIDATION_CAVEAT, VersionComparison, compare_versions  # noqa: E402
from medview.workspace import Workspace  # noqa: E402

pytestmark = pytest.mark.gui
RUN_TIMEOUT_MS = 120_000


@pytest.fixture
def workspace(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv(PLUGIN_PATH_ENV, str(make_plugin_folder(tmp_path / "plugins")))
    return make_workspace(tmp_path / "workspace")


def test_a_version_made_before_test_cases_is_compared_on_its_validation_cases_and_says_so(
    qtbot, workspace: Path, tmp_path: Path
):
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
    assert "on the workspace's test cases" in view.compare_button.toolTip()

    from qtpy.QtCore import Qt

    qtbot.mouseClick(view.compare_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: view.result is not None, timeout=60_000)

    expected = compare_versions(workspace, TINY_MODEL, "0.1.0+ft1")
    assert view.rows() == [
        [c.case, f"{c.old:.4f}", f"{c.new:.4f}", f"{c.difference:+.4f}"] for c in expected.overall.cases
    ]
    assert [row[0] for row in view.rows()] == held_out
    assert view.header.text() == f"{TINY_MODEL} 0.1.0 → 0.1.0+ft1 on 2 validation cases"
    assert view.summary.text().startswith("too few validation cases for a verdict (2 scored;")
    assert view.summary.text().endswith(VALIDATION_CAVEAT)
    assert view.summary.toolTip() == expected.describe()
    assert view.table.horizontalHeaderItem(2).text() == "dice 0.1.0+ft1"
    assert len(view.plot.axes.patches) == len(held_out)  # one bar per case, no interval


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
    assert (result.old_version, result.new_version, result.case_set) == ("0.1.0", "0.1.0+ft1", "test")
    assert [case.case for case in result.overall.cases] == card["test_cases"] == list(card["data"]["test"])
    # the test Dice the run recorded is the one the comparison measures through the plugin
    assert result.overall.new.value == pytest.approx(card["test_after"]["dice"], abs=1e-6)
    count = len(card["test_cases"])
    assert metrics.versions.header.text() == (
        f"{TINY_MODEL} 0.1.0 → 0.1.0+ft1 on {count} test case{'' if count == 1 else 's'}"
    )
    assert metrics.versions.summary.text().startswith("too few test cases for a verdict")
    assert not metrics.visibleRegion().isEmpty()  # the metrics tab was raised to show it
    window.close()


def test_few_test_cases_get_no_interval_only_their_differences_and_a_worse_class_is_flagged(qtbot):
    from medview.qt.widgets.version_comparison import BETTER, WORSE

    view = _view(qtbot)
    cases = ["a", "b", "c"]
    overall = compare_paired(cases, [0.80, 0.82, 0.84], [0.812, 0.816, 0.86], "dice")
    liver = compare_paired(cases, [0.90, 0.91, 0.92], [0.93, 0.92, 0.95], "dice_liver")
    spleen = compare_paired(cases, [0.70, 0.73, 0.76], [0.69, 0.71, 0.75], "dice_spleen")
    result = VersionComparison(
        "ct-unet3d", "1.0.0", "1.0.0+ft1", overall, {"liver": liver, "spleen": spleen}, case_set="test"
    )
    assert result.worse_classes == ["spleen"] and not overall.has_interval

    view.show_result(result)

    assert view.header.text() == "ct-unet3d 1.0.0 → 1.0.0+ft1 on 3 test cases"
    assert view.summary.text().splitlines() == [
        f"too few test cases for a verdict (3 scored; a paired bootstrap interval needs at least "
        f"{MIN_CASES_FOR_INTERVAL}): dice 0.8200 → 0.8293, mean difference +0.0093; "
        "better on 2 of 3 test cases",
        "per-case differences: +0.0120, -0.0040, +0.0200",
        "spleen: worse beyond its noise (-0.0133)",
    ]
    axes = view.plot.axes
    assert axes.get_title() == "too few test cases for a verdict: no interval"
    assert axes.get_legend() is None  # no interval, no mean line to name
    assert [_hex(bar.get_facecolor()) for bar in axes.patches] == [BETTER, WORSE, BETTER]
    assert [bar.get_height() for bar in axes.patches] == pytest.approx([0.012, -0.004, 0.02])
    assert [label.get_text() for label in axes.get_xticklabels()] == cases
    assert view.class_table.isVisibleTo(view)
    headers = [view.class_table.horizontalHeaderItem(c).text() for c in range(5)]
    assert headers == ["class", "1.0.0", "1.0.0+ft1", "difference", "flag"]
    assert view.class_rows() == [
        ["liver", "0.9100", "0.9333", "+0.0233", "too few cases"],
        ["spleen", "0.7300", "0.7167", "-0.0133", "worse beyond its noise"],
    ]
    assert {view.class_table.item(1, c).foreground().color().name() for c in range(5)} == {WORSE}
    assert view.class_table.item(1, 0).font().bold() and not view.class_table.item(0, 0).font().bold()
    assert view.class_table.item(0, 0).foreground().color().name() != WORSE


def test_enough_test_cases_get_the_interval_drawn_and_its_method_named(qtbot):
    view = _view(qtbot)
    count = MIN_CASES_FOR_INTERVAL + 2
    cases = [f"case{i}" for i in range(count)]
    old = [0.70 + 0.01 * i for i in range(count)]
    new = [value + 0.03 + (0.005 if i % 2 else -0.005) for i, value in enumerate(old)]
    overall = compare_paired(cases, old, new, "dice")
    result = VersionComparison("ct-unet3d", "1.0.0", "1.0.0+ft1", overall, case_set="test")
    assert overall.has_interval and overall.verdict == "better"

    view.show_result(result)

    d = overall.difference
    assert view.header.text() == f"ct-unet3d 1.0.0 → 1.0.0+ft1 on {count} test cases"
    assert view.summary.text().splitlines() == [
        f"better: dice {overall.old.value:.4f} → {overall.new.value:.4f}, mean difference {d.value:+.4f}, "
        f"95% interval {d.low:+.4f} to {d.high:+.4f}; better on {count} of {count} test cases",
        f"interval: {overall.method}",
    ]
    assert "paired bootstrap" in overall.method and "resamples" in overall.method
    axes = view.plot.axes
    assert axes.get_title() == f"better: new minus old on {count} test cases"
    assert [text.get_text() for text in axes.get_legend().get_texts()] == [
        f"95% interval ({overall.method})",
        f"mean difference {d.value:+.4f}",
        "per-case difference",
    ]
    interval = [patch for patch in axes.patches if patch.get_label().startswith("95% interval")]
    (band,) = interval
    ys = band.get_path().transformed(band.get_patch_transform()).vertices[:, 1]
    assert (ys.min(), ys.max()) == pytest.approx((d.low, d.high))
    assert not view.class_table.isVisibleTo(view)  # one score per case: no classes to list


def _view(qtbot):
    from medview.qt.widgets.task_bar import TaskBar
    from medview.qt.widgets.version_comparison import VersionComparisonView

    view = VersionComparisonView(TaskBar())
    qtbot.addWidget(view)
    view.show()
    return view


def _hex(rgba) -> str:
    from matplotlib.colors import to_hex

    return to_hex(rgba)


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
