"""The training panel drives a real training subprocess: live progress, a new version, a clean stop,
curves that survive Stop and Resume, and a final report that leads with the test cases."""

from __future__ import annotations

import json
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
    card = versions.find_version(panel.workspace, TINY_MODEL, "0.1.0+ft1").card
    (test_case,) = card["test_cases"]  # 20% of 3 cases, at least one, set aside before the split
    before, after = card["test_before"]["dice"], card["test_after"]["dice"]
    assert panel.status_text.startswith(
        f"New version 0.1.0+ft1: test Dice {before:.3f} → {after:.3f} on 1 test case "
        "(never trained on, never used to choose the checkpoint)"
    )
    assert panel.status_text.endswith(card["test"]["verdict_text"])
    assert panel.validation_text.startswith(
        f"validation (chose the checkpoint): Dice {card['metrics_before']['dice']:.3f} → "
        f"{card['metrics_after']['dice']:.3f} on 1 case;"
    )
    assert panel.test_cases_text.startswith(f"Test cases: {test_case} (never trained on")
    assert "0.1.0+ft1" in panel.versions_text
    assert [event["epoch"] for event in panel.history] == [1, 2]
    (line,) = panel.curves.loss_plot.axes.get_lines()
    assert list(line.get_xdata()) == [1, 2]
    assert panel.baseline == card["metrics_before"]["dice"]  # the dashed "before" line
    baseline = panel.curves.baseline_line
    assert list(baseline.get_ydata()) == [panel.baseline] * 2 and baseline.get_visible()
    assert panel.curves.legend_texts() == ["validation Dice", f"before training ({panel.baseline:.3f})"]
    assert panel._start.isEnabled() and not panel._resume.isEnabled()
    assert card["config"]["learning_rate"] == 0.002 and card["config"]["validation_fraction"] == 0.4
    (validation_case,) = card["data"]["validation"]  # 40% of the 2 cases left, rounded
    texts = panel.case_texts()
    assert [text for text in texts if text.endswith(" · validation")] == [
        text for text in texts if text.startswith(validation_case)
    ]
    assert [text for text in texts if text.endswith(" · test")] == [
        text for text in texts if text.startswith(test_case)
    ]


def test_stop_keeps_earlier_versions_and_resume_keeps_the_curves(qtbot, panel):
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
    stopped = [event["epoch"] for event in panel.history]
    loss_line = panel.curves.loss_line

    qtbot.mouseClick(panel._resume, _left())
    assert list(loss_line.get_xdata()) == stopped  # read back from the run folder, not cleared
    qtbot.waitUntil(lambda: len(panel.history) > len(stopped), timeout=RUN_TIMEOUT_MS)
    panel.stop()
    qtbot.waitUntil(lambda: not panel.running, timeout=30_000)

    epochs = [event["epoch"] for event in panel.history]
    assert epochs == list(range(1, len(epochs) + 1)) and epochs[: len(stopped)] == stopped
    assert list(loss_line.get_xdata()) == epochs
    assert list(panel.curves.score_line.get_ydata()) == [event["val_score"] for event in panel.history]
    assert panel.curves.legend_texts() == ["validation Dice", f"before training ({panel.baseline:.3f})"]


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


def test_a_stopped_run_is_shown_again_when_the_panel_opens_on_its_workspace(qtbot, panel):
    """Curves come back from the run folder (an epoch redone after a resume counts once, a line cut
    short by a killed process is skipped), the held-out cases are marked, and Resume is offered."""
    ids = _case_ids(panel)
    run = _run_folder(panel.workspace, "cancelled", validation=ids[1:2], test=ids[2:])
    (run / "checkpoint.pt").write_bytes(b"")
    epochs = [_epoch(1, 0.9, 0.40), _epoch(2, 0.8, 0.45), _epoch(2, 0.7, 0.50), _epoch(3, 0.6, 0.55)]
    lines = [json.dumps(epoch) for epoch in epochs]
    (run / "metrics.jsonl").write_text("\n".join(lines) + '\n{"epoch": 4, "lo')

    panel.set_workspace(panel.workspace)

    assert (
        panel.status_text == "The last run stopped after 3 epochs and published nothing; Resume continues it."
    )
    assert panel._resume.isEnabled() and panel._run_dir == str(run)
    assert list(panel.curves.loss_line.get_xdata()) == [1, 2, 3]
    assert list(panel.curves.loss_line.get_ydata()) == [0.9, 0.7, 0.6]
    assert list(panel.curves.score_line.get_ydata()) == [0.40, 0.50, 0.55]
    assert panel.curves.legend_texts() == ["validation Dice"]  # where it started is not recorded
    texts = panel.case_texts()
    assert texts[0].endswith("(labels v1)")
    assert texts[1].endswith("(labels v1) · validation") and texts[2].endswith("(labels v1) · test")
    assert panel.test_cases_text.startswith(f"Test cases: {ids[2]} (never trained on")


def test_a_finished_run_shows_its_curves_and_where_it_started(qtbot, panel):
    run = _run_folder(panel.workspace, "completed", version="0.1.0+ft1")
    (run / "metrics.jsonl").write_text(json.dumps(_epoch(1, 0.9, 0.61)) + "\n")
    card = panel.workspace / versions.MODELS / TINY_MODEL / "0.1.0+ft1" / versions.MODEL_CARD
    card.parent.mkdir(parents=True)
    test_case = _case_ids(panel)[0]
    card.write_text(
        json.dumps(
            {
                "metric": "dice",
                "metrics_before": {"dice": 0.5},
                "metrics_after": {"dice": 0.61},
                "epochs": 1,
                "stop_reason": "completed",
                "data": {"validation": {"other": "sha"}},
                "test_cases": [test_case],
                "test_before": {"dice": 0.4},
                "test_after": {"dice": 0.45},
                "test": {"verdict_text": "too few test cases for a verdict"},
            }
        )
    )

    panel.set_workspace(panel.workspace)

    assert not panel._resume.isEnabled()
    assert panel.status_text.startswith(
        "Last run made version 0.1.0+ft1: test Dice 0.400 → 0.450 on 1 test case (never trained on"
    )
    assert panel.status_text.endswith("too few test cases for a verdict")
    assert panel.validation_text.startswith(
        "validation (chose the checkpoint): Dice 0.500 → 0.610 on 1 case;"
    )
    assert list(panel.curves.score_line.get_ydata()) == [0.61]
    assert panel.curves.baseline_line.get_visible()
    assert panel.curves.legend_texts() == ["validation Dice", "before training (0.500)"]


def test_the_final_report_leads_with_the_test_cases_and_marks_them(qtbot, panel):
    ids = _case_ids(panel)
    panel._handle({"event": "baseline", "metric": "dice", "metrics": {"dice": 0.7}})
    panel._handle({"event": "epoch"} | _epoch(1, 0.5, 0.75))
    panel._handle(
        _done(
            ids[1:2],
            test_cases=ids[2:],
            test_before={"dice": 0.812, "dice_liver": 0.9, "dice_spleen": 0.7},
            test_after={"dice": 0.845, "dice_liver": 0.92, "dice_spleen": 0.69},
            test_verdict="tiny-ct 0.1.0 -> 0.1.0+ft1 on 1 test cases: too few test cases for a verdict",
        )
    )

    assert panel.status_text.splitlines() == [
        "New version 0.1.0+ft1: test Dice 0.812 → 0.845 on 1 test case "
        "(never trained on, never used to choose the checkpoint)",
        "per class: liver 0.900 → 0.920, spleen 0.700 → 0.690",
        "tiny-ct 0.1.0 -> 0.1.0+ft1 on 1 test cases: too few test cases for a verdict",
    ]
    assert panel.validation_text == (
        "validation (chose the checkpoint): Dice 0.700 → 0.750 on 1 case; 1 epoch, completed"
    )
    assert (
        panel.test_cases_text
        == f"Test cases: {ids[2]} (never trained on, never used to choose the checkpoint)"
    )
    texts = panel.case_texts()
    assert [text.rsplit(" · ", 1)[-1] for text in texts[1:]] == ["validation", "test"]
    assert " · " not in texts[0]
    assert panel.curves.legend_texts() == ["validation Dice", "before training (0.700)"]

    panel._handle(_done(ids[:1]))  # a second run's report: the marks follow it, never pile up
    assert panel.case_texts()[0].endswith("(labels v1) · validation") and " · " not in panel.case_texts()[1]


def test_without_test_cases_the_report_says_it_is_validation_only(qtbot, panel):
    panel._handle(_done(_case_ids(panel)[:1], test_cases=[], test_before=None, test_after=None))

    assert panel.status_text == (
        "New version 0.1.0+ft1: no test cases: the result is validation only, which chose the checkpoint"
    )
    assert panel.validation_text.startswith("validation (chose the checkpoint): Dice 0.700 → 0.750")
    assert panel.test_cases_text == "Test cases: none (results are validation only)"


def _case_ids(panel) -> list[str]:
    from qtpy.QtCore import Qt

    return [panel._cases.item(i).data(Qt.ItemDataRole.UserRole) for i in range(panel._cases.count())]


def _run_folder(workspace: Path, status: str, validation=(), test=(), version: str | None = None) -> Path:
    """A run folder as :mod:`medview.training.versions` writes it, without training."""
    run = workspace / versions.RUNS / f"20250101T000000-{TINY_MODEL}-abc123"
    run.mkdir(parents=True)
    (run / "config.json").write_text(json.dumps({"model": TINY_MODEL}))
    data = {
        "model": TINY_MODEL,
        "validation": dict.fromkeys(validation, "sha"),
        "test": dict.fromkeys(test, "sha"),
    }
    (run / "data.json").write_text(json.dumps(data))
    (run / "status.json").write_text(
        json.dumps({"status": status} | ({"version": version} if version else {}))
    )
    return run


def _epoch(epoch: int, loss: float, dice: float) -> dict:
    return {
        "epoch": epoch,
        "loss": loss,
        "metric": "dice",
        "val_score": dice,
        "metrics": {"dice": dice},
        "learning_rate": 1e-3,
        "seconds": 1.0 * epoch,
        "seconds_left": 1.0,
        "patches_per_second": 10.0,
    }


def _done(validation_cases: list[str], **test) -> dict:
    return {
        "event": "done",
        "version": "0.1.0+ft1",
        "metric": "dice",
        "metrics_before": {"dice": 0.7},
        "metrics_after": {"dice": 0.75},
        "epochs": 1,
        "stop_reason": "completed",
        "validation_cases": validation_cases,
    } | test


def _left():
    from qtpy.QtCore import Qt

    return Qt.MouseButton.LeftButton
