"""A model's last training run in a workspace, read back from its run folder (for the training panel).

So that Stop, Resume and reopening the window keep the curves: the panel shows the epochs the run
recorded (``runs/<id>/metrics.jsonl``, one epoch per line, appended as epochs finish, see
:mod:`medview.training.versions`), whether it can be resumed (``status.json`` and its checkpoint), and
where the model started (the published version's card, or the run's ``baseline.json``).
Nothing here writes.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

from medview.training.loop import CHECKPOINT
from medview.training.versions import MODEL_CARD, MODELS, RUNS

RESUMABLE = ("cancelled", "failed")
"""Statuses of a run that stopped before publishing; with a checkpoint it continues from there."""


@dataclass(frozen=True)
class RunRecord:
    """What a run folder says: ``epochs`` are epoch events (``epoch``, ``loss``, ``metric``,
    ``val_score``, ...), one per epoch, oldest first; ``baseline`` is the starting model's primary
    validation score when the folder records it."""

    folder: Path
    status: str
    epochs: list[dict] = field(default_factory=list)
    baseline: float | None = None
    version: str | None = None
    validation_cases: list[str] = field(default_factory=list)
    test_cases: list[str] = field(default_factory=list)

    @property
    def resumable(self) -> bool:
        return self.status in RESUMABLE and (self.folder / CHECKPOINT).is_file()


def last_run(workspace: str | Path, model: str) -> RunRecord | None:
    """The newest run of ``model`` in the workspace (run folders start with their UTC start time)."""
    runs = Path(workspace) / RUNS
    if not runs.is_dir():
        return None
    for folder in sorted((path for path in runs.iterdir() if path.is_dir()), reverse=True):
        if _read_json(folder / "config.json").get("model") == model:
            return read_run(workspace, folder)
    return None


def read_run(workspace: str | Path, folder: str | Path) -> RunRecord:
    """The record of the run in ``folder``; missing or damaged files read as empty."""
    folder = Path(folder)
    status = _read_json(folder / "status.json")
    data = _read_json(folder / "data.json")
    epochs = read_epochs(folder)
    metric = epochs[-1]["metric"] if epochs else None
    version = status.get("version")
    return RunRecord(
        folder=folder,
        status=str(status.get("status", "unknown")),
        epochs=epochs,
        baseline=_baseline(workspace, folder, data.get("model"), version, metric),
        version=version,
        validation_cases=list(data.get("validation") or ()),
        test_cases=list(data.get("test") or ()),
    )


def read_epochs(folder: str | Path) -> list[dict]:
    """The epochs ``metrics.jsonl`` holds, oldest first; a resumed run that redid an epoch keeps the
    later record, and a line cut short by a killed process is skipped."""
    path = Path(folder) / "metrics.jsonl"
    if not path.is_file():
        return []
    by_epoch: dict[int, dict] = {}
    for line in path.read_text(encoding="utf-8", errors="replace").splitlines():
        try:
            record = json.loads(line)
        except ValueError:
            continue
        if isinstance(record, dict) and "epoch" in record:
            by_epoch[int(record["epoch"])] = {"event": "epoch"} | record
    return [by_epoch[epoch] for epoch in sorted(by_epoch)]


def _baseline(
    workspace: str | Path, folder: Path, model: str | None, version: str | None, metric: str | None
) -> float | None:
    """The starting model's score: from the version the run published, else from ``baseline.json``."""
    card = _read_json(Path(workspace) / MODELS / str(model) / str(version) / MODEL_CARD) if version else {}
    recorded = card or _read_json(folder / "baseline.json")
    metric = recorded.get("metric") or metric
    value = (recorded.get("metrics_before") or recorded.get("metrics") or {}).get(metric)
    return float(value) if isinstance(value, int | float) else None


def _read_json(path: Path) -> dict:
    try:
        value = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return value if isinstance(value, dict) else {}
