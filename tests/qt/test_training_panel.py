"""The training panel drives a real training subprocess: live progress, a new version, a clean stop."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parents[1] / "training"))
from training_fixtures import TINY_MODEL, make_plugin_folder, make_workspace  # noqa: E402

from medview.models.registry import PLUGIN_PATH_ENV, Registry  # noqa: E402
from medview.training import versions  # noqa: E402

pytestmark = pytest.mark.gui
RUN_TIMEOUT_MS = 120_000


@pytest.fixture
def panel(qtbot, tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    from napari.components import ViewerModel

    from medview.qt.widgets.training_panel import TrainingPanel

    plugins = make_plugin_folder(tmp_path / "plugins")
    monkeypatch.setenv(PLUGIN_PATH_ENV, str(plugins))  # the training subprocess inherits it
    widget = TrainingPanel(ViewerModel(), registry=Registry.discover([plugins]))
    qtbot.addWidget(widget)
    widget.set_workspace(make_workspace(tmp_path / "workspace"))
    widget._model.setCurrentIndex(widget._model.findData(TINY_MODEL))
    widget.show()
    return widget


def test_a_short_run_plots_each_epoch_and_publishes_a_version(qtbot, panel):
    assert panel._cases.count() == 3 and "none yet" in panel.versions_text
    panel.set_budget(2, "epochs")

    with qtbot.waitSignal(panel.version_published, timeout=RUN_TIMEOUT_MS) as published:
        qtbot.mouseClick(panel._start, _left())
        assert panel.running and not panel._start.isEnabled()
    qtbot.waitUntil(lambda: not panel.running, timeout=10_000)

    assert published.args == [TINY_MODEL, "0.1.0+ft1"]
    assert panel.status_text.startswith("New version 0.1.0+ft1: validation Dice")
    assert "0.1.0+ft1" in panel.versions_text
    assert [event["epoch"] for event in panel.history] == [1, 2]
    (line,) = panel._loss_plot.axes.get_lines()
    assert list(line.get_xdata()) == [1, 2]
    assert panel._start.isEnabled() and not panel._resume.isEnabled()


def test_stop_keeps_earlier_versions_and_offers_resume(qtbot, panel):
    panel.set_budget(500, "epochs")
    qtbot.mouseClick(panel._start, _left())
    qtbot.waitUntil(lambda: len(panel.history) >= 1, timeout=RUN_TIMEOUT_MS)

    qtbot.mouseClick(panel._stop, _left())
    qtbot.waitUntil(lambda: not panel.running, timeout=30_000)

    assert panel.status_text.startswith("Stopped after")
    assert panel._resume.isEnabled()
    workspace = Path(panel._workspace.text())
    assert versions.list_versions(workspace, TINY_MODEL) == []
    assert versions.run_status(panel._run_dir)["status"] == "cancelled"


def _left():
    from qtpy.QtCore import Qt

    return Qt.MouseButton.LeftButton
