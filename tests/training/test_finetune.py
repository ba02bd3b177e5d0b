"""End-to-end fine-tuning in a workspace: a new version each run, stop and resume, cancel keeps the old."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from training_fixtures import TINY_MODEL as NAME

from medview.core.progress import Cancelled, CancelToken
from medview.models.registry import Registry
from medview.models.weights import load_weights
from medview.training import versions
from medview.training.config import TrainingConfig
from medview.training.loop import CHECKPOINT
from medview.training.runner import annotated_cases, train_in_workspace
from medview.training.versions import version_plugin
from medview.workspace import Workspace


def tiny_config(epochs: int = 2, **options) -> TrainingConfig:
    return TrainingConfig(
        NAME, epochs=epochs, batch_size=2, samples_per_case=2, learning_rate=1e-2, device="cpu", **options
    )


def test_fine_tune_lowers_the_loss_and_publishes_a_new_version(plugin_folder: Path, workspace_dir: Path):
    outcome = train_in_workspace(workspace_dir, tiny_config(epochs=3))

    losses = [record.loss for record in outcome.result.history]
    assert len(losses) == 3 and losses[-1] < losses[0]
    assert outcome.version == "0.1.0+ft1"
    (version,) = versions.list_versions(workspace_dir, NAME)
    card = version.card
    assert card["base_version"] == "0.1.0" and card["metrics_after"] == outcome.result.metrics_after
    digests = {case.name: case.digest() for case in annotated_cases(workspace_dir, _plugin(plugin_folder))}
    data = card["data"]
    assert data["training"] | data["validation"] | data["test"] == digests
    assert len(data["training"]) + len(data["validation"]) + len(data["test"]) == len(digests) == 3
    with Workspace.open(workspace_dir) as workspace:
        assert workspace.test_cases("labels") == list(data["test"]) == card["test_cases"]
    assert card["test_after"] == outcome.test.scores("new") and card["test"]["case_set"] == "test"
    lines = (outcome.run_dir / "metrics.jsonl").read_text().splitlines()
    assert [json.loads(line)["epoch"] for line in lines] == [1, 2, 3]
    with Workspace.open(workspace_dir) as workspace:
        rows = {row["version"]: row for row in workspace.model_versions()}
        (run,) = workspace.runs()
    assert rows["0.1.0+ft1"]["parent_id"] == rows["0.1.0"]["id"]
    assert run["status"] == "done" and run["result_model_id"] == rows["0.1.0+ft1"]["id"]
    assert run["config"]["epochs"] == 3

    fine_tuned = version_plugin(_plugin(plugin_folder), version)
    assert fine_tuned.info.title == "tiny-ct 0.1.0+ft1"
    assert _plugin(plugin_folder).info.version == "0.1.0"
    new, old = load_weights(version.weights), load_weights(_plugin(plugin_folder).weights_path)
    assert any(not np.allclose(new[key], old[key]) for key in old)


def test_a_stopped_run_resumes_and_a_cancel_keeps_the_earlier_version(
    plugin_folder: Path, workspace_dir: Path
):
    first = train_in_workspace(workspace_dir, tiny_config(epochs=1))
    published = versions.list_versions(workspace_dir, NAME)[0].weights.read_bytes()

    cancel = CancelToken()
    started: list[Path] = []
    with pytest.raises(Cancelled):
        train_in_workspace(
            workspace_dir,
            tiny_config(epochs=3),
            cancel=cancel,
            callbacks=[lambda record: cancel.cancel() if record.epoch == 2 else None],
            on_start=started.append,
        )
    (run_dir,) = started
    assert versions.run_status(run_dir)["status"] == "cancelled"
    assert (run_dir / CHECKPOINT).is_file()
    assert [v.version for v in versions.list_versions(workspace_dir, NAME)] == [first.version]
    assert versions.list_versions(workspace_dir, NAME)[0].weights.read_bytes() == published
    with Workspace.open(workspace_dir) as workspace:
        assert [run["status"] for run in workspace.runs()] == ["done", "cancelled"]

    resumed = train_in_workspace(workspace_dir, tiny_config(), resume=run_dir)
    assert [record.epoch for record in resumed.result.history] == [1, 2, 3]
    assert resumed.version == "0.1.0+ft2" and resumed.run_dir == run_dir
    assert versions.list_versions(workspace_dir, NAME)[0].weights.read_bytes() == published
    with Workspace.open(workspace_dir) as workspace:
        assert [run["status"] for run in workspace.runs()] == ["done", "done"]


def _plugin(folder: Path):
    return Registry.discover([folder]).get(NAME)
