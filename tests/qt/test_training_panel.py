"""The training panel drives a real training subprocess: live progress, a new version, a clean stop."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).parents[1] / "training"))
from training_fixtures import (  # noqa: E402
    TINY_MODEL,
    TINY_SHAPE,
    make_box_workspace,
    make_plugin_folder,
    make_workspace,
)

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
    panel._learning_rate.setValue(0.002)
    panel._validation.setValue(40)

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
    card = versions.find_version(panel.workspace, TINY_MODEL, "0.1.0+ft1").card
    assert panel.baseline == card["metrics_before"]["dice"]  # the dashed "before" line
    assert (
        list(panel._baseline_line.get_ydata()) == [panel.baseline] * 2 and panel._baseline_line.get_visible()
    )
    assert panel._start.isEnabled() and not panel._resume.isEnabled()
    assert card["config"]["learning_rate"] == 0.002 and card["config"]["validation_fraction"] == 0.4
    assert len(card["data"]["validation"]) == 1  # 40% of 3 cases, rounded
    held_out = [
        panel._cases.item(i).text() for i in range(3) if panel._cases.item(i).text().endswith("· validation")
    ]
    assert len(held_out) == 1 and held_out[0].startswith(next(iter(card["data"]["validation"])))


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


def test_closing_the_panel_stops_the_run_and_keeps_it_resumable(qtbot, panel):
    panel.set_budget(500, "epochs")
    qtbot.mouseClick(panel._start, _left())
    qtbot.waitUntil(lambda: len(panel.history) >= 1, timeout=RUN_TIMEOUT_MS)
    run_dir = panel._run_dir

    panel.close()

    assert versions.run_status(run_dir)["status"] == "cancelled"
    assert versions.list_versions(panel.workspace, TINY_MODEL) == []


def test_models_with_an_objective_are_offered_with_the_cases_they_learn_from(qtbot, panel, tmp_path):
    offered = [panel._model.itemData(i) for i in range(panel._model.count())]
    assert {TINY_MODEL, "ct-unet3d", "nodule-detector", "patch-classifier"} <= set(offered)
    assert "threshold" not in offered  # a rule, not a network: nothing to fine-tune

    assert panel._learning_rate.value() == 1e-3
    panel._model.setCurrentIndex(panel._model.findData("patch-classifier"))
    assert panel._learning_rate.value() == 1e-4  # the classifier's objective asks for a gentler rate
    panel._model.setCurrentIndex(panel._model.findData(TINY_MODEL))
    panel.set_workspace(make_box_workspace(tmp_path / "boxes"))
    assert panel._cases.count() == 0  # the tiny CT model learns from label maps; these cases have boxes
    panel._model.setCurrentIndex(panel._model.findData("nodule-detector"))
    assert panel._cases.count() == 4
    assert all("(boxes v1)" in panel._cases.item(i).text() for i in range(4))


def test_a_case_in_progress_is_listed_to_train_on_its_annotated_slices(qtbot, panel):
    from medview.core.scan import LabelMap
    from medview.demo import make_ct
    from medview.io import write_scan
    from medview.workspace import Workspace

    demo = make_ct(9, TINY_SHAPE, domain="shifted")
    drawn = np.zeros_like(demo.truth.array)
    drawn[10:12] = demo.truth.array[10:12]
    with Workspace.open(panel.workspace) as workspace:
        case = workspace.add_case(write_scan(demo.scan, panel.workspace.parent / "open.nii.gz"))
        workspace.save_labels(case.id, LabelMap(drawn, demo.truth.geometry, demo.truth.labels))
    panel.refresh_cases()

    texts = [panel._cases.item(i).text() for i in range(panel._cases.count())]
    assert len(texts) == 4
    assert texts[-1] == "open (in progress, annotated slices only, labels v1)"


def _left():
    from qtpy.QtCore import Qt

    return Qt.MouseButton.LeftButton
