"""Fine-tune a model plugin on a workspace's annotated cases and record the run and its new version.

This is what ``medview train``, ``python -m medview.training`` (and so the GUI's subprocess) and
``torchrun -m medview.training`` all call. The workspace's SQLite index records the run (its
configuration and outcome) and the new model version; the files live in the folder layout of
:mod:`medview.training.versions`.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from medview.core.errors import InputError
from medview.core.progress import Cancelled, CancelToken, ProgressCallback, no_progress
from medview.models.api import ModelPlugin
from medview.models.network_plugin import NetworkPlugin
from medview.models.registry import Registry
from medview.models.weights import load_into
from medview.training import ddp, versions
from medview.training.config import TrainingConfig
from medview.training.dataset import TrainingCase, split_by_case
from medview.training.loop import BaselineCallback, EpochCallback, RunResult, fine_tune, training_device
from medview.training.objectives import objective_for
from medview.training.trainable import TrainableModel
from medview.workspace import Workspace


@dataclass
class TrainingOutcome:
    """A finished run: the version it published (``None`` on ranks other than 0) and its result."""

    version: str | None
    result: RunResult
    run_dir: Path


def train_in_workspace(
    workspace_dir: str | Path,
    config: TrainingConfig,
    progress: ProgressCallback = no_progress,
    cancel: CancelToken | None = None,
    callbacks: Sequence[EpochCallback] = (),
    resume: str | Path | None = None,
    registry: Registry | None = None,
    on_start: Callable[[Path], None] | None = None,
    on_baseline: BaselineCallback | None = None,
) -> TrainingOutcome:
    """Fine-tune ``config.model`` on the workspace's annotated (``done``) cases; publish the best epoch.

    The plugin's objective (:func:`~medview.training.objectives.objective_for`) decides which
    annotations are read (label maps, boxes or case classes), the loss and the validation metric.

    With ``resume`` (a run folder) the run continues from its last checkpoint with its own
    configuration. A cancel or an error marks the run ``cancelled``/``failed`` and publishes nothing,
    so the model's earlier versions stay as they were. ``on_start`` is told the run folder (on rank 0)
    as soon as it exists, so a caller can offer to resume it; ``on_baseline`` is passed to
    :func:`~medview.training.loop.fine_tune`.
    """
    workspace_dir = Path(workspace_dir)
    if resume is not None:
        config, _ = versions.open_run(resume)
    plugin = (registry or Registry.discover()).get(config.model)
    objective = objective_for(plugin)
    if config.learning_rate is None:  # recorded with the run as the rate it really used
        config = dataclasses.replace(config, learning_rate=objective.learning_rate)
    model = trainable_model(plugin, config.from_scratch)
    cases = objective.cases(workspace_dir, plugin, config.cases)
    distributed = ddp.init_from_env(training_device(config.device))
    with Workspace.open(workspace_dir) as workspace:
        run_dir, run_id, base_id = None, None, None
        if distributed.is_writer:
            base_id = _base_version_id(workspace, plugin)
            run_dir = Path(resume) if resume else _start(workspace_dir, config, plugin, cases)
            run_id = versions.run_status(run_dir).get("workspace_run_id")
            if run_id is None:
                run_id = workspace.add_run(dataclasses.asdict(config), base_id, run_dir)
            versions.set_status(run_dir, "running", workspace_run_id=run_id)
            if on_start is not None:
                on_start(run_dir)
        run_dir = Path(ddp.broadcast(str(run_dir), distributed))
        log: list[EpochCallback] = [lambda record: versions.record_epoch(run_dir, record)]
        try:
            result = fine_tune(
                config,
                model,
                cases,
                run_dir,
                progress,
                cancel,
                (log if distributed.is_writer else []) + list(callbacks),
                objective,
                on_baseline,
            )
        except Cancelled:
            _finish(workspace, run_dir, run_id, "cancelled", distributed)
            raise
        except BaseException:
            _finish(workspace, run_dir, run_id, "failed", distributed)
            raise
        if not distributed.is_writer:
            return TrainingOutcome(None, result, run_dir)
        version = versions.publish_version(workspace_dir, run_dir, result)
        model_id = workspace.add_model_version(
            config.model, version.version, version.weights, base_id, result.metrics_after
        )
        workspace.finish_run(run_id, "done", model_id)
        return TrainingOutcome(version.version, result, run_dir)


def trainable_model(plugin: NetworkPlugin, from_scratch: bool = False) -> TrainableModel:
    """A fresh copy of the plugin's network, with its weights unless ``from_scratch``."""
    network = plugin.build_network()
    if not from_scratch and plugin.weights_path is not None:
        load_into(network, plugin.weights_path)
    return TrainableModel(plugin.info, network)


def version_plugin(plugin: ModelPlugin, version: versions.ModelVersion) -> NetworkPlugin:
    """The plugin running a fine-tuned version's weights, named ``<model> <version>`` in predictions.

    Only network plugins can be fine-tuned, so only they have versions to run.
    """
    if not isinstance(plugin, NetworkPlugin):
        raise InputError(f"model {plugin.info.name!r} has no fine-tuned versions: it is not a network")
    return plugin.with_weights(version.weights, version.version)


def annotated_cases(
    workspace_dir: str | Path, plugin: ModelPlugin, case_ids: Sequence[str] | None = None
) -> list[TrainingCase]:
    """The workspace's ``done`` cases (those of ``case_ids`` only, when given) with their newest
    annotation of the kind the plugin trains on, in the plugin's terms."""
    return objective_for(plugin).cases(workspace_dir, plugin, case_ids)


def _start(
    workspace_dir: Path, config: TrainingConfig, plugin: NetworkPlugin, cases: list[TrainingCase]
) -> Path:
    training, validation = split_by_case(cases, config.validation_fraction, config.seed)
    return versions.start_run(workspace_dir, config, plugin.info.version, training, validation)


def _base_version_id(workspace: Workspace, plugin: NetworkPlugin) -> int:
    """The workspace's id of the plugin's own version, recorded on first use."""
    for row in workspace.model_versions():
        if row["name"] == plugin.info.name and row["version"] == plugin.info.version:
            return int(row["id"])
    return workspace.add_model_version(plugin.info.name, plugin.info.version, str(plugin.weights_path))


def _finish(
    workspace: Workspace, run_dir: Path, run_id: int | None, status: str, distributed: ddp.Distributed
) -> None:
    if distributed.is_writer:
        versions.set_status(run_dir, status, workspace_run_id=run_id)
        workspace.finish_run(run_id, status)
