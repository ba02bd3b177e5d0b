"""The training command line, shared by ``medview train`` and ``python -m medview.training``; light to
import (torch loads in ``run``).

With ``--progress-json`` every event is one JSON object on its own stdout line, for the GUI (which runs
training as a subprocess) and for scripts::

    {"event": "start", "run": "<run folder>"}
    {"event": "baseline", "metric": "dice", "metrics": {...}}   (the starting model, before epoch 1)
    {"event": "progress", "fraction": 0.42, "message": "epoch 3: loss 0.812"}
    {"event": "epoch", "epoch": 3, "loss": 0.81, "metric": "dice", "val_score": 0.74, "metrics": {...},
     "seconds_left": 95.0, ...}
    {"event": "done", "version": "1.0.0+ft2", "metric": "dice", "metrics_before": {...},
     "metrics_after": {...}, "test_cases": [...], "test_before": {...}, "test_after": {...},
     "test_verdict": "...", ...}

``metric`` names the model's primary validation score (``dice``, ``f1``, ``accuracy``); ``val_score`` is
its value, and ``metrics_before``/``metrics_after`` hold it under that name with the other scores, on
the validation cases (which chose the best epoch). ``test_before``/``test_after`` are the base and the
new version on the workspace's test cases (never trained on, never used to choose), the primary
metric and ``<metric>_<class>``; ``null`` with ``"test_cases": []`` when the workspace has none.
    {"event": "cancelled", "run": "<run folder>"}      (exit status 130; resume with --resume)
    {"event": "error", "message": "..."}               (exit status 2)

SIGTERM and SIGINT cancel cleanly at the next training step (a second one ends the process at once);
the run stays resumable.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import sys
import time
from dataclasses import asdict
from pathlib import Path
from typing import TYPE_CHECKING

from medview.core.errors import MedviewError
from medview.core.json_safe import finite
from medview.core.progress import Cancelled, CancelToken, no_progress
from medview.training.config import TrainingConfig

if TYPE_CHECKING:
    from medview.training.loop import EpochRecord
    from medview.training.runner import TrainingOutcome

EXIT_CANCELLED = 130
EXIT_ERROR = 2
PROGRESS_INTERVAL_S = 0.5
BACKGROUND_NICENESS = 10
NO_TEST = (
    "no test cases in this workspace: the result is on validation cases only, which chose the checkpoint"
)
METRIC_TITLES = {"dice": "Dice", "f1": "F1", "accuracy": "accuracy", "roc_auc": "ROC AUC"}


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The options of ``medview train`` (``python -m medview.training`` adds ``--progress-json``)."""
    parser.add_argument("--workspace", required=True, type=Path, help="workspace folder")
    parser.add_argument("--model", help="model plugin to fine-tune (required unless --resume)")
    budget = parser.add_mutually_exclusive_group()
    budget.add_argument("--epochs", type=int, help="number of epochs (default 10)")
    budget.add_argument("--minutes", type=float, help="wall-clock budget in minutes")
    parser.add_argument("--device", choices=("auto", "cpu", "cuda"), default="auto")
    parser.add_argument("--from-scratch", action="store_true", help="start from random weights")
    parser.add_argument("--patch-size", type=int, nargs="+", help="training patch, array order")
    parser.add_argument("--batch-size", type=int, default=2)
    parser.add_argument(
        "--learning-rate",
        type=float,
        help="peak AdamW learning rate (default: the model's objective, 1e-3; classifiers 1e-4)",
    )
    parser.add_argument(
        "--validation-fraction",
        type=float,
        default=0.2,
        help="share of the cases left after the test cases held out for validation (0.2; at least one)",
    )
    parser.add_argument(
        "--test-fraction",
        type=float,
        default=0.2,
        help="share of the done cases set aside as the workspace's test cases, when it has none yet (0.2; "
        "0 for none); later runs reuse them: see 'medview workspace test-cases'",
    )
    parser.add_argument("--patience", type=int, default=0, help="early-stopping patience in epochs")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--cases", nargs="+", metavar="ID", help="case ids (default: every annotated case)")
    parser.add_argument("--resume", type=Path, metavar="RUN", help="continue a stopped run folder")
    parser.add_argument("--json", action="store_true", help="print the result as one JSON document")


def config_from_args(args: argparse.Namespace) -> TrainingConfig:
    """The run's configuration from the parsed options."""
    if args.model is None and args.resume is None:
        raise MedviewError("name the model to fine-tune with --model (or continue a run with --resume)")
    return TrainingConfig(
        model=args.model or "",
        epochs=args.epochs if args.epochs is not None or args.minutes is not None else 10,
        minutes=args.minutes,
        from_scratch=args.from_scratch,
        device=args.device,
        patch_size=tuple(args.patch_size) if args.patch_size else None,
        batch_size=args.batch_size,
        learning_rate=args.learning_rate,
        validation_fraction=args.validation_fraction,
        test_fraction=args.test_fraction,
        patience=args.patience,
        seed=args.seed,
        cases=tuple(args.cases) if args.cases else None,
    )


def run(args: argparse.Namespace, progress_json: bool = False) -> int:
    """Train as the options say; print JSON lines (``progress_json``), one JSON result, or text."""
    from medview.training import ddp  # torch and MONAI load only when training runs
    from medview.training.runner import train_in_workspace

    cancel = CancelToken()

    def stop(signum: int, frame: object) -> None:
        cancel.cancel()
        signal.signal(signum, signal.SIG_DFL)  # a second signal ends the process at once

    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, stop)
    writer = ddp.from_env().is_writer
    emit = _emitter(writer and progress_json)
    tell = _teller(writer and not progress_json)  # a line per step on stderr; stdout keeps the result
    run_dir: list[Path] = []
    try:
        outcome = train_in_workspace(
            args.workspace,
            config_from_args(args),
            progress=_progress(emit) if progress_json else no_progress,
            cancel=cancel,
            callbacks=[lambda record: (emit(_epoch_event(record)), tell(epoch_line(record)))],
            resume=args.resume,
            on_start=lambda path: (
                run_dir.append(path),
                emit({"event": "start", "run": str(path)}),
                tell(f"run folder {path}"),
            ),
            on_baseline=lambda metric, metrics: (
                emit({"event": "baseline", "metric": metric, "metrics": metrics}),
                tell(f"before training: validation {metric_title(metric)} {metrics[metric]:.3f}"),
            ),
        )
    except Cancelled:
        emit({"event": "cancelled", "run": str(run_dir[0]) if run_dir else None})
        if writer and not progress_json:
            print(f"medview: training stopped; resume with --resume {run_dir[0] if run_dir else ''}".strip())
        return EXIT_CANCELLED
    except MedviewError as error:
        if progress_json:
            emit({"event": "error", "message": str(error)})
            return EXIT_ERROR
        raise
    finally:
        ddp.shutdown(ddp.from_env())
    if writer:
        _report(outcome, emit if progress_json else None, args.json)
    return 0


def summary(outcome: TrainingOutcome) -> dict:
    """The result document of ``medview train --json``."""
    result = outcome.result
    return {
        "version": outcome.version,
        "metric": result.metric,
        "metrics_before": result.metrics_before,
        "metrics_after": result.metrics_after,
        "epochs": result.epochs,
        "seconds": round(result.seconds, 2),
        "best_epoch": result.best_epoch,
        "stop_reason": result.stop_reason,
        "run": str(outcome.run_dir),
        "training_cases": result.training_cases,
        "validation_cases": result.validation_cases,
        "test_cases": [] if outcome.test is None else outcome.test.case_ids,
        "test_before": None if outcome.test is None else outcome.test.scores("old"),
        "test_after": None if outcome.test is None else outcome.test.scores("new"),
        "test_verdict": NO_TEST if outcome.test is None else outcome.test.describe(),
    }


def _report(outcome: TrainingOutcome, emit, as_json: bool) -> None:
    if emit is not None:
        emit({"event": "done"} | finite(summary(outcome)))
    elif as_json:
        print(json.dumps(finite(summary(outcome)), indent=2))
    else:
        result = outcome.result
        print(
            f"new version {outcome.version} after {result.epochs} epochs in {result.seconds:.0f} s "
            f"({result.stop_reason}); validation {metric_title(result.metric)} "
            f"{result.metrics_before[result.metric]:.3f} -> {result.metrics_after[result.metric]:.3f} "
            "(these cases chose the checkpoint)"
        )
        print(NO_TEST if outcome.test is None else outcome.test.describe())


def metric_title(metric: str) -> str:
    """How a validation metric's name reads in a sentence: ``dice`` -> ``Dice``, ``f1`` -> ``F1``."""
    return METRIC_TITLES.get(metric, metric)


def _epoch_event(record: EpochRecord) -> dict:
    return {"event": "epoch"} | asdict(record)


def epoch_line(record: EpochRecord) -> str:
    """One epoch as ``medview train`` prints it on stderr, e.g. ``epoch 3: loss 0.812, validation Dice
    0.845, 41 s elapsed (about 2 min left)``."""
    left = f" (about {_duration(record.seconds_left)} left)" if record.seconds_left > 0 else ""
    return (
        f"epoch {record.epoch}: loss {record.loss:.3f}, validation {metric_title(record.metric)} "
        f"{record.val_score:.3f}, {record.seconds:.0f} s elapsed{left}"
    )


def _duration(seconds: float) -> str:
    return f"{seconds:.0f} s" if seconds < 90 else f"{seconds / 60:.0f} min"


def _teller(enabled: bool):
    def tell(line: str) -> None:
        if enabled:
            print(line, file=sys.stderr, flush=True)

    return tell


def _emitter(enabled: bool):
    def emit(event: dict) -> None:
        if enabled:
            print(json.dumps(event), flush=True)

    return emit


def _progress(emit):
    last = [0.0]

    def report(fraction: float, message: str) -> None:
        now = time.monotonic()
        if now - last[0] >= PROGRESS_INTERVAL_S or fraction >= 1.0:
            last[0] = now
            emit({"event": "progress", "fraction": round(fraction, 4), "message": message})

    return report


def main(argv: list[str] | None = None) -> int:
    """``python -m medview.training``: the same options plus ``--progress-json`` and ``--background``."""
    parser = argparse.ArgumentParser(prog="python -m medview.training", description=__doc__.splitlines()[0])
    add_arguments(parser)
    parser.add_argument("--progress-json", action="store_true", help="one JSON event per stdout line")
    parser.add_argument(
        "--background",
        action="store_true",
        help="run at low CPU priority, so a window beside it stays responsive (the training panel's way)",
    )
    args = parser.parse_args(argv)
    if args.background and hasattr(os, "nice"):
        os.nice(BACKGROUND_NICENESS)
    try:
        return run(args, progress_json=args.progress_json)
    except MedviewError as error:
        print(f"medview: error: {error}", file=sys.stderr)
        return EXIT_ERROR
