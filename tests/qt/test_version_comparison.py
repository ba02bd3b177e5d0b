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
