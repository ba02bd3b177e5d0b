"""Runs and model versions on disk, inside a workspace folder.

Layout (paths relative to the workspace folder)::

    runs/<run id>/config.json        the TrainingConfig
    runs/<run id>/data.json          base model version, training, validation and test cases with
                                     SHA-256 hashes, and the cases that trained on their annotated
                                     slices only
    runs/<run id>/baseline.json      the starting model's validation metrics (primary ``metric``, ``metrics``)
    runs/<run id>/metrics.jsonl      one EpochRecord per line, appended as epochs finish
    runs/<run id>/checkpoint.pt      last finished epoch (network, optimiser, history): resume point
    runs/<run id>/best.safetensors   weights of the best validation epoch so far
    runs/<run id>/status.json        running | cancelled | failed | completed, and the version it made
    models/<model>/<version>/weights.safetensors
    models/<model>/<version>/model_card.json   base version, run, config, data hashes, metric, metrics,
                                               and the comparison with the base on the test cases

A version folder is built under a temporary name and renamed into place, so it appears whole or not
at all, and a rename never replaces an existing version: earlier versions are never overwritten.
"""

from __future__ import annotations

import dataclasses
import json
import os
import shutil
import tempfile
import uuid
from dataclasses import asdict, dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING

from medview.core.errors import InputError
from medview.core.json_safe import finite
from medview.io.atomic import write_text_atomic
from medview.models.api import ModelPlugin
from medview.models.network_plugin import NetworkPlugin
from medview.training.config import TrainingConfig
from medview.training.dataset import TrainingCase
from medview.training.loop import BEST_WEIGHTS, EpochRecord, RunResult

if TYPE_CHECKING:
    from medview.training.compare import VersionComparison

RUNS = "runs"
MODELS = "models"
WEIGHTS = "weights.safetensors"
MODEL_CARD = "model_card.json"
FINE_TUNED = "+ft"


@dataclass(frozen=True)
class ModelVersion:
    """A published version: ``weights`` (safetensors) and ``card`` (what it was trained from and how well)."""

    model: str
    version: str
    folder: Path

    @property
    def weights(self) -> Path:
        return self.folder / WEIGHTS

    @property
    def card(self) -> dict:
        return json.loads((self.folder / MODEL_CARD).read_text())


def start_run(
    workspace: str | Path,
    config: TrainingConfig,
    base_version: str,
    training: list[TrainingCase],
    validation: list[TrainingCase],
    test: list[TrainingCase] = (),
) -> Path:
    """Create ``runs/<new id>/`` with the configuration and the hashes of its data; returns the folder."""
    run_dir = Path(workspace).resolve() / RUNS / f"{_now_compact()}-{config.model}-{uuid.uuid4().hex[:6]}"
    run_dir.mkdir(parents=True)
    write_text_atomic(run_dir / "config.json", config.to_json())
    data = {
        "model": config.model,
        "base_version": base_version,
        "training": {case.name: case.digest() for case in training},
        "validation": {case.name: case.digest() for case in validation},
        "test": {case.name: case.digest() for case in test},
        "annotated_slices_only": [case.name for case in training if case.partial],
    }
    write_text_atomic(run_dir / "data.json", json.dumps(data, indent=2))
    set_status(run_dir, "running")
    return run_dir


def open_run(run_dir: str | Path) -> tuple[TrainingConfig, dict]:
    """Configuration and data record of an existing run, to resume it."""
    run_dir = Path(run_dir)
    try:
        config = TrainingConfig.from_json((run_dir / "config.json").read_text())
        data = json.loads((run_dir / "data.json").read_text())
    except (OSError, ValueError) as error:
        raise InputError(f"not a medview training run ({error})", run_dir) from error
    return config, data


def record_epoch(run_dir: str | Path, record: EpochRecord) -> None:
    """Append one epoch's metrics to ``metrics.jsonl``."""
    with open(Path(run_dir) / "metrics.jsonl", "a", encoding="utf-8") as log:
        log.write(json.dumps(asdict(record)) + "\n")


def record_baseline(run_dir: str | Path, metric: str, metrics: dict[str, float]) -> None:
    """Write ``baseline.json``, so a stopped run's curves still show where it started."""
    record = {"metric": metric, "metrics": metrics}
    write_text_atomic(Path(run_dir) / "baseline.json", json.dumps(finite(record), indent=2))


def set_status(run_dir: str | Path, status: str, **details) -> None:
    """Write ``status.json``: ``running``, ``cancelled``, ``failed`` or ``completed`` plus details."""
    record = {"status": status, "updated": _now()} | details
    write_text_atomic(Path(run_dir) / "status.json", json.dumps(record, indent=2))


def run_status(run_dir: str | Path) -> dict:
    return json.loads((Path(run_dir) / "status.json").read_text())


def publish_version(
    workspace: str | Path, run_dir: str | Path, result: RunResult, test: VersionComparison | None = None
) -> ModelVersion:
    """Make the run's best weights a new version ``<base>+ftN`` of its model; never replaces one.

    ``test`` (the base and these weights on the test cases) goes into the card under the version's
    name: ``test_cases``, ``test_before``, ``test_after`` and the whole comparison as ``test``."""
    run_dir = Path(run_dir)
    config, data = open_run(run_dir)
    models = Path(workspace) / MODELS / config.model
    models.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=".staging-", dir=models))
    try:
        shutil.copy2(run_dir / BEST_WEIGHTS, staging / WEIGHTS)
        card = {
            "model": config.model,
            "base_version": data["base_version"],
            "run": run_dir.name,
            "created": _now(),
            "config": json.loads(config.to_json()),
            "data": {
                "training": data["training"],
                "validation": data["validation"],
                "test": data.get("test", {}),
            },
            "metric": result.metric,
            "metrics_before": result.metrics_before,
            "metrics_after": result.metrics_after,
            "best_epoch": result.best_epoch,
            "epochs": result.epochs,
            "stop_reason": result.stop_reason,
        }
        while True:
            version = f"{data['base_version'].split(FINE_TUNED)[0]}{FINE_TUNED}{_next_number(models)}"
            card["version"] = version
            if test is not None:
                judged = dataclasses.replace(test, new_version=version)
                card |= {
                    "test_cases": judged.case_ids,
                    "test_before": judged.scores("old"),
                    "test_after": judged.scores("new"),
                    "test": judged.to_dict(),
                }
            (staging / MODEL_CARD).write_text(json.dumps(card, indent=2))
            try:
                os.rename(staging, models / version)  # refuses to replace a version another run just made
                break
            except OSError:
                if not (models / version).exists():
                    raise
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    set_status(run_dir, "completed", version=version)
    return ModelVersion(config.model, version, models / version)


def list_versions(workspace: str | Path, model: str) -> list[ModelVersion]:
    """The published fine-tuned versions of ``model`` in this workspace, oldest first."""
    folder = Path(workspace) / MODELS / model
    if not folder.is_dir():
        return []
    versions = [
        ModelVersion(model, path.name, path)
        for path in folder.iterdir()
        if FINE_TUNED in path.name and (path / MODEL_CARD).is_file()
    ]
    return sorted(versions, key=lambda version: int(version.version.rsplit(FINE_TUNED, 1)[1]))


def find_version(workspace: str | Path, model: str, version: str) -> ModelVersion:
    """The published version ``version`` of ``model``; an error lists the versions there are."""
    published = list_versions(workspace, model)
    for candidate in published:
        if candidate.version == version:
            return candidate
    there = ", ".join(candidate.version for candidate in published) or "none"
    raise InputError(
        f"model {model!r} has no fine-tuned version {version!r} here (versions: {there})", workspace
    )


def version_plugin(plugin: ModelPlugin, version: ModelVersion) -> NetworkPlugin:
    """The plugin running a fine-tuned version's weights, named ``<model> <version>`` in predictions.

    Only network plugins can be fine-tuned, so only they have versions to run.
    """
    if not isinstance(plugin, NetworkPlugin):
        raise InputError(f"model {plugin.info.name!r} has no fine-tuned versions: it is not a network")
    return plugin.with_weights(version.weights, version.version)


def _next_number(models: Path) -> int:
    numbers = [int(p.name.rsplit(FINE_TUNED, 1)[1]) for p in models.iterdir() if FINE_TUNED in p.name]
    return max(numbers, default=0) + 1


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


def _now_compact() -> str:
    return datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%S")
