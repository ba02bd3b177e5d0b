"""One fine-tuned version on one set of cases has one score: ``medview train --json``, ``medview compare
--json``, the Train panel's final figure and the Metrics panel's "Model versions" tab agree exactly, and
the validation figure equals ``medview compare`` on the validation cases."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parents[1] / "training"))
from training_fixtures import TINY_MODEL, make_plugin_folder, make_workspace  # noqa: E402

from medview.cli.main import main  # noqa: E402
from medview.models.registry import PLUGIN_PATH_ENV, Registry  # noqa: E402

pytestmark = pytest.mark.gui


def test_one_version_shows_one_test_score_everywhere(qtbot, tmp_path: Path, monkeypatch, capsys):
    from napari.components import ViewerModel

    from medview.qt.widgets.metrics_panel import MetricsPanel
    from medview.qt.widgets.training_panel import TrainingPanel

    plugins = make_plugin_folder(tmp_path / "plugins")
    monkeypatch.setenv(PLUGIN_PATH_ENV, str(plugins))
    workspace = str(make_workspace(tmp_path / "workspace"))
    train = ["train", "--workspace", workspace, "--model", TINY_MODEL, "--epochs", "1", "--json"]
    assert main(train + ["--device", "cpu"]) == 0
    trained = json.loads(capsys.readouterr().out)
    before, after = trained["test_before"]["dice"], trained["test_after"]["dice"]
    assert before != after  # one epoch at the objective's learning rate changes the network

    compare = ["compare", "--workspace", workspace, "--model", TINY_MODEL, "--json"]
    assert main(compare) == 0
    compared = json.loads(capsys.readouterr().out)
    assert compared["scored_cases"] == trained["test_cases"]
    assert (compared["old"]["value"], compared["new"]["value"]) == (before, after)

    assert main(compare + ["--cases", *trained["validation_cases"]]) == 0
    on_validation = json.loads(capsys.readouterr().out)
    assert on_validation["case_set"] == "chosen"
    assert on_validation["old"]["value"] == trained["metrics_before"]["dice"]
    assert on_validation["new"]["value"] == trained["metrics_after"]["dice"]

    panel = TrainingPanel(ViewerModel(), registry=Registry.discover([plugins]))
    qtbot.addWidget(panel)
    panel.set_workspace(workspace)
    panel._model.setCurrentIndex(panel._model.findData(TINY_MODEL))
    assert f"test Dice {before:.3f} → {after:.3f} on 1 test case" in panel.status_text

    metrics = MetricsPanel(ViewerModel())
    qtbot.addWidget(metrics)
    metrics.compare_versions(workspace, TINY_MODEL, trained["version"])
    qtbot.waitUntil(lambda: metrics.versions.result is not None, timeout=60_000)
    shown = metrics.versions.result
    assert shown.case_ids == trained["test_cases"]
    assert (shown.overall.old.value, shown.overall.new.value) == (before, after)
    assert f"{before:.4f} → {after:.4f}" in metrics.versions.summary.text()
