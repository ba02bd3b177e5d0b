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

from medview.core.progress import Cancelled, CancelToken, ProgressCallback, no_progress
from medview.models.api import ModelPlugin
from medview.models.network_plugin import NetworkPlugin
from medview.models.registry import Registry
from medview.models.weights import load_into
from medview.training import ddp, versions
from medview.training.compare import VersionComparison, compare_plugins, renamed
from medview.training.config import TrainingConfig
from medview.training.dataset import TrainingCase, split_by_case
from medview.training.loop import BaselineCallback, EpochCallback, RunResult, fine_tune, training_device
from medview.training.objectives import Objective, objective_for
from medview.training.splits import without_test_cases, workspace_test_cases
from medview.training.trainable import TrainableModel
from medview.workspace import Workspace


@dataclass
class TrainingOutcome:
    """A finished run: the version it published (``None`` on ranks other than 0), its result, and the
    base and new versions on the workspace's test cases (``None`` when it has none)."""

    version: str | None
    result: RunResult
    run_dir: Path
    test: VersionComparison | None = None


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
    The workspace's test cases (:mod:`medview.training.splits`) are set aside first; validation cases
    (which choose the best epoch) come from the rest; after training, the base and the new version are
    compared on the test cases (:func:`~medview.training.compare.compare_plugins`), and the new
    version's card records that comparison.

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
    if resume is not None:
        _, data = versions.open_run(resume)
        test_ids, validation = list(data.get("test", [])), list(data["validation"])
    else:
        test_ids = workspace_test_cases(workspace_dir, objective.annotation_kind, cases, config.test_fraction)
        trainable = without_test_cases(cases, test_ids)
        validation = [c.name for c in split_by_case(trainable, config.validation_fraction, config.seed)[1]]
    test_cases = [case for case in cases if case.name in set(test_ids)]
    distributed = ddp.init_from_env(training_device(config.device))
    with Workspace.open(workspace_dir) as workspace:
        run_dir, run_id, base_id = None, None, None
        if distributed.is_writer:
            base_id = _base_version_id(workspace, plugin)
            run_dir = (
                Path(resume) if resume else _start(workspace_dir, config, plugin, cases, validation, test_ids)
            )
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
                without_test_cases(cases, test_ids),
                run_dir,
                progress,
                cancel,
                (log if distributed.is_writer else []) + list(callbacks),
                objective,
                lambda metric, metrics: _baseline(run_dir, metric, metrics, on_baseline),
                validation,
            )
            test = None
            if distributed.is_writer and test_cases:
                test = _judge(plugin, objective, result, test_cases, progress, cancel)
        except Cancelled:
            _finish(workspace, run_dir, run_id, "cancelled", distributed)
            raise
        except BaseException:
            _finish(workspace, run_dir, run_id, "failed", distributed)
            raise
        if not distributed.is_writer:
            return TrainingOutcome(None, result, run_dir)
        version = versions.publish_version(workspace_dir, run_dir, result, test)
        model_id = workspace.add_model_version(
            config.model, version.version, version.weights, base_id, result.metrics_after
        )
        workspace.finish_run(run_id, "done", model_id)
        return TrainingOutcome(
            version.version, result, run_dir, None if test is None else renamed(test, version.version)
        )


def _baseline(run_dir: Path, metric: str, metrics: dict[str, float], then: BaselineCallback | None) -> None:
    """Record the starting model's scores in the run folder (the loop calls this on rank 0 only)."""
    versions.record_baseline(run_dir, metric, metrics)
    if then is not None:
        then(metric, metrics)


def _judge(
    plugin: NetworkPlugin,
    objective: Objective,
    result: RunResult,
    test_cases: Sequence[TrainingCase],
    progress: ProgressCallback,
    cancel: CancelToken | None,
) -> VersionComparison:
    """The base version and the run's best weights on the test cases, scored as ``medview compare`` does."""
    progress(1.0, f"scoring the base and the new version on {len(test_cases)} test cases")
    candidate = plugin.with_weights(result.best_weights, f"{plugin.info.version} (this run)")
    return compare_plugins(plugin, candidate, objective, test_cases, "test", cancel=cancel)


def trainable_model(plugin: NetworkPlugin, from_scratch: bool = False) -> TrainableModel:
    """A fresh copy of the plugin's network, with its weights unless ``from_scratch``."""
    network = plugin.build_network()
    if not from_scratch and plugin.weights_path is not None:
        load_into(network, plugin.weights_path)
    return TrainableModel(plugin.info, network, plugin)


def annotated_cases(
    workspace_dir: str | Path, plugin: ModelPlugin, case_ids: Sequence[str] | None = None
) -> list[TrainingCase]:
    """The workspace's ``done`` cases (those of ``case_ids`` only, when given) with their newest
    annotation of the kind the plugin trains on, in the plugin's terms."""
    return objective_for(plugin).cases(workspace_dir, plugin, case_ids)


def _start(
    workspace_dir: Path,
    config: TrainingConfig,
    plugin: NetworkPlugin,
    cases: list[TrainingCase],
    validation: list[str],
    test_ids: list[str],
) -> Path:
    held = set(validation) | set(test_ids)
    return versions.start_run(
        workspace_dir,
        config,
        plugin.info.version,
        [case for case in cases if case.name not in held],
        [case for case in cases if case.name in set(validation)],
        [case for case in cases if case.name in set(test_ids)],
    )


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
