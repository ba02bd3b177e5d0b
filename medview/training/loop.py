"""The fine-tuning loop: AdamW with a cosine schedule over the budget, AMP on CUDA, validation every
epoch, early stopping on the objective's primary metric, a checkpoint every epoch to resume from.

What is trained for is the :class:`~medview.training.objectives.Objective`'s business (datasets, loss,
validation scores); the loop is the same for every task.

Nothing is published here: the loop leaves ``best.safetensors`` and ``checkpoint.pt`` in its run
folder, and :mod:`medview.training.versions` turns a finished run into a new model version. A cancel
or a crash therefore never touches an earlier version, and the run resumes from its last epoch.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path

import torch
from monai.data import DataLoader, list_data_collate
from torch.nn.parallel import DistributedDataParallel
from torch.utils.data import DistributedSampler

from medview.core.progress import CancelToken, ProgressCallback, no_progress
from medview.io.atomic import atomic_path, write_with_atomic
from medview.models.engine import Engine, choose_device
from medview.models.weights import save_weights
from medview.training import ddp
from medview.training.config import TrainingConfig
from medview.training.dataset import TrainingCase, split_by_case
from medview.training.objectives import Objective, SegmentationObjective
from medview.training.trainable import TrainableModel

CHECKPOINT = "checkpoint.pt"
BEST_WEIGHTS = "best.safetensors"


@dataclass
class EpochRecord:
    """What one epoch did: ``val_score`` is the primary validation metric (named ``metric``),
    ``metrics`` every validation metric; ``seconds_left`` estimates the rest of the budget."""

    epoch: int
    loss: float
    metric: str
    val_score: float
    metrics: dict[str, float]
    learning_rate: float
    seconds: float
    seconds_left: float
    patches_per_second: float


@dataclass
class RunResult:
    """A finished (completed, early-stopped or out-of-time) run.

    ``metrics_before`` is the starting network on the validation cases, ``metrics_after`` the best
    epoch's; both hold the primary ``metric`` (e.g. ``dice``, the mean over classes) and the objective's
    other scores (e.g. ``dice_<class name>``).
    """

    metric: str
    metrics_before: dict[str, float]
    metrics_after: dict[str, float]
    best_epoch: int
    epochs: int
    seconds: float
    stop_reason: str
    best_weights: Path
    training_cases: list[str]
    validation_cases: list[str]
    history: list[EpochRecord] = field(default_factory=list)


EpochCallback = Callable[[EpochRecord], None]
BaselineCallback = Callable[[str, dict[str, float]], None]
"""Told the primary metric's name and the starting network's validation metrics."""


def fine_tune(
    config: TrainingConfig,
    model: TrainableModel,
    cases: Sequence[TrainingCase],
    run_dir: str | Path,
    progress: ProgressCallback = no_progress,
    cancel: CancelToken | None = None,
    callbacks: Sequence[EpochCallback] = (),
    objective: Objective | None = None,
    on_baseline: BaselineCallback | None = None,
    validation: Sequence[str] | None = None,
) -> RunResult:
    """Train ``model.network`` in place on ``cases``; resume from ``run_dir``'s checkpoint when there is one.

    ``objective`` says what to train for; ``None`` is segmentation (Dice-CE, validation Dice).
    ``validation`` names the cases held out to validate on (they choose the best epoch); ``None``
    splits ``cases`` with :func:`~medview.training.dataset.split_by_case`. Each validation case is
    predicted whole through ``model``'s plugin and scored on its scan's grid, as users' predictions
    are (:meth:`~medview.training.objectives.Objective.validate`).
    ``on_baseline(metric, metrics)`` is told the starting network's validation metrics before the
    first epoch (and again on resume), so a live plot can show where training started.

    Raises :class:`~medview.core.progress.Cancelled` when ``cancel`` is set; the checkpoint of the last
    finished epoch stays in ``run_dir`` for :func:`fine_tune` to resume from. Under ``torchrun`` each
    process trains on its share of the patches (DDP) and only rank 0 writes; the caller leaves the
    process group (:func:`medview.training.ddp.shutdown`).
    """
    objective = objective or SegmentationObjective()
    if validation is None:
        split = split_by_case(cases, config.validation_fraction, config.seed)
    else:
        split = held_out(cases, validation)
    run = _Run(config, model, objective, split, Path(run_dir), cancel or CancelToken(), callbacks, progress)
    run.on_baseline = on_baseline
    return run.execute()


def held_out(
    cases: Sequence[TrainingCase], validation: Sequence[str]
) -> tuple[list[TrainingCase], list[TrainingCase]]:
    """``cases`` split into those that train and the named ones that validate (complete cases only)."""
    wanted = set(validation)
    training = [case for case in cases if case.name not in wanted]
    chosen = [case for case in cases if case.name in wanted]
    missing = wanted - {case.name for case in chosen}
    if missing:
        raise ValueError(f"validation cases not among the cases: {', '.join(sorted(missing))}")
    if not training or not chosen or any(case.partial for case in chosen):
        raise ValueError("validation needs complete cases, and something must be left to train on")
    return training, chosen


def training_device(name: str) -> torch.device:
    """The device a config names; ``auto`` is the fastest available (CUDA, then MPS, then CPU)."""
    return choose_device(None if name == "auto" else name)


def cosine_factor(fraction: float) -> float:
    """Learning-rate multiplier at ``fraction`` (0..1) of the budget: 1 at the start, 0 at the end."""
    return 0.5 * (1.0 + math.cos(math.pi * min(max(fraction, 0.0), 1.0)))


class _Run:
    """The state of one run; one object so the epoch steps share it without long argument lists."""

    def __init__(self, config, model, objective, split, run_dir, cancel, callbacks, progress) -> None:
        self.config, self.model, self.objective, self.run_dir = config, model, objective, run_dir
        self.cancel, self.callbacks, self.progress = cancel, callbacks, progress
        self.on_baseline: BaselineCallback | None = None
        device = training_device(config.device)
        self.distributed = ddp.init_from_env(device)
        self.device = ddp.process_device(device, self.distributed)
        self.training_cases, self.validation_cases = split
        self.train_data = objective.training_dataset(self.training_cases, model, config)
        self.validation_shard = self.validation_cases[self.distributed.rank :: self.distributed.world_size]
        self.network = model.network.to(self.device)
        self.trained = DistributedDataParallel(self.network) if self.distributed.active else self.network
        self.peak_learning_rate = (
            objective.learning_rate if config.learning_rate is None else config.learning_rate
        )
        self.optimizer = torch.optim.AdamW(
            self.network.parameters(), lr=self.peak_learning_rate, weight_decay=config.weight_decay
        )
        self.amp = self.device.type == "cuda"
        self.scaler = torch.amp.GradScaler("cuda", enabled=self.amp)
        self.sampler = (
            DistributedSampler(self.train_data, seed=config.seed) if self.distributed.active else None
        )
        self.loader = DataLoader(
            self.train_data,
            batch_size=config.batch_size,
            shuffle=self.sampler is None,
            sampler=self.sampler,
            num_workers=config.num_workers,
            collate_fn=list_data_collate,
        )
        self.state = {"epoch": 0, "history": [], "best_score": -math.inf, "best_epoch": 0, "seconds": 0.0}

    def execute(self) -> RunResult:
        self.run_dir.mkdir(parents=True, exist_ok=True)
        torch.manual_seed(self.config.seed + self.distributed.rank)
        if not self._resume():
            self.progress(0.0, "validating the starting model")
            self.state["metrics_before"] = self._validate()
        if self.on_baseline is not None and self.distributed.is_writer:
            self.on_baseline(self.objective.metric, self.state["metrics_before"])
        started = time.monotonic() - self.state["seconds"]
        stop_reason = "completed"
        while self.state["epoch"] < (self.config.epochs or math.inf):
            self.cancel.raise_if_cancelled()
            if ddp.any_rank(self._time_up(started), self.distributed, self.device):
                stop_reason = "time budget"
                break
            record, out_of_time = self._epoch(started)
            self._after_epoch(record)
            if out_of_time:
                stop_reason = "time budget"
                break
            if self.config.patience and record.epoch - self.state["best_epoch"] >= self.config.patience:
                stop_reason = "early stopping"
                break
        self.progress(1.0, f"training finished ({stop_reason})")
        return self._result(stop_reason)

    def _epoch(self, started: float) -> tuple[EpochRecord, bool]:
        """Train one epoch and validate; the epoch ends early (on every rank) when the time is up."""
        epoch = self.state["epoch"] + 1
        self.train_data.transform.set_random_state(
            seed=self.config.seed + 7919 * epoch + self.distributed.rank
        )
        if self.sampler is not None:
            self.sampler.set_epoch(epoch)
        self.objective.train_mode(self.network, self.config)
        losses, patches, out_of_time = [], 0, False
        epoch_start = time.monotonic()
        steps = len(self.loader)
        for step, batch in enumerate(self.loader):
            fraction = self._fraction(epoch - 1 + step / steps, started)
            stop = self.cancel.cancelled or (step > 0 and self._time_up(started))
            if ddp.any_rank(stop, self.distributed, self.device):
                self.cancel.raise_if_cancelled()
                out_of_time = True
                break
            learning_rate = self.peak_learning_rate * cosine_factor(fraction)
            for group in self.optimizer.param_groups:
                group["lr"] = learning_rate
            losses.append(self._step(batch))
            patches += len(batch["image"])
            self.progress(fraction, f"epoch {epoch}: loss {losses[-1]:.3f}")
        train_seconds = time.monotonic() - epoch_start
        self.progress(self._fraction(epoch, started), f"epoch {epoch}: validating")
        metrics = self._validate()
        elapsed = time.monotonic() - started
        mean_loss = ddp.sum_over_ranks([sum(losses), len(losses)], self.distributed, self.device)
        record = EpochRecord(
            epoch=epoch,
            loss=mean_loss[0] / mean_loss[1],
            metric=self.objective.metric,
            val_score=metrics[self.objective.metric],
            metrics=metrics,
            learning_rate=learning_rate,
            seconds=elapsed,
            seconds_left=self._seconds_left(epoch, elapsed),
            patches_per_second=patches * self.distributed.world_size / max(train_seconds, 1e-9),
        )
        return record, ddp.any_rank(out_of_time or self._time_up(started), self.distributed, self.device)

    def _step(self, batch: dict) -> float:
        batch = {key: value.to(self.device) for key, value in batch.items() if torch.is_tensor(value)}
        self.optimizer.zero_grad(set_to_none=True)
        with torch.autocast(self.device.type, enabled=self.amp):
            loss = self.objective.loss(self.trained(batch["image"]), batch)
        self.scaler.scale(loss).backward()
        self.scaler.step(self.optimizer)
        self.scaler.update()
        return float(loss.detach())

    def _validate(self) -> dict[str, float]:
        """The objective's validation metrics over every rank's validation cases, each predicted by the
        plugin with a snapshot of the network (mixed precision on CUDA, as at inference)."""
        predictor = self.model.predictor(self.network, Engine(self.device, amp=self.amp))
        rows = self.objective.validate(predictor, self.validation_shard, self.cancel)
        # gathered, not reduced: ranks hold different numbers of cases, and some scores (ROC AUC)
        # are not sums over cases
        return self.objective.summarise(ddp.gather(rows, self.distributed))

    def _after_epoch(self, record: EpochRecord) -> None:
        """Keep the best weights, write the checkpoint (rank 0), tell the callbacks."""
        improved = record.val_score > self.state["best_score"]
        if improved:
            self.state["best_score"], self.state["best_epoch"] = record.val_score, record.epoch
            self.state["metrics_after"] = dict(record.metrics)
        self.state["epoch"] = record.epoch
        self.state["seconds"] = record.seconds
        self.state["history"].append(asdict(record))
        if self.distributed.is_writer:
            if improved:
                write_with_atomic(self.run_dir / BEST_WEIGHTS, lambda path: save_weights(self.network, path))
            self._save_checkpoint()
        ddp.barrier(self.distributed)
        for callback in self.callbacks:
            callback(record)

    def _save_checkpoint(self) -> None:
        checkpoint = {
            "network": self.network.state_dict(),
            "optimizer": self.optimizer.state_dict(),
            "scaler": self.scaler.state_dict(),
            "state": self.state,
        }
        with atomic_path(self.run_dir / CHECKPOINT) as path:
            torch.save(checkpoint, path)

    def _resume(self) -> bool:
        """Load the run folder's checkpoint, if any; True when resumed."""
        path = self.run_dir / CHECKPOINT
        if not path.is_file():
            return False
        checkpoint = torch.load(path, map_location=self.device, weights_only=True)
        self.network.load_state_dict(checkpoint["network"])
        self.optimizer.load_state_dict(checkpoint["optimizer"])
        self.scaler.load_state_dict(checkpoint["scaler"])
        self.state = checkpoint["state"]
        self.progress(0.0, f"resuming after epoch {self.state['epoch']}")
        return True

    def _fraction(self, epochs_done: float, started: float) -> float:
        """Share of the budget spent: by epochs, by minutes, whichever is further along."""
        fractions = []
        if self.config.epochs is not None:
            fractions.append(epochs_done / self.config.epochs)
        if self.config.minutes is not None:
            fractions.append((time.monotonic() - started) / (60.0 * self.config.minutes))
        return max(fractions)

    def _time_up(self, started: float) -> bool:
        return self.config.minutes is not None and time.monotonic() - started >= 60.0 * self.config.minutes

    def _seconds_left(self, epoch: int, elapsed: float) -> float:
        estimates = []
        if self.config.epochs is not None:
            estimates.append(elapsed / epoch * (self.config.epochs - epoch))
        if self.config.minutes is not None:
            estimates.append(60.0 * self.config.minutes - elapsed)
        return max(0.0, min(estimates))

    def _result(self, stop_reason: str) -> RunResult:
        return RunResult(
            metric=self.objective.metric,
            metrics_before=self.state["metrics_before"],
            metrics_after=self.state["metrics_after"],
            best_epoch=self.state["best_epoch"],
            epochs=self.state["epoch"],
            seconds=self.state["seconds"],
            stop_reason=stop_reason,
            best_weights=self.run_dir / BEST_WEIGHTS,
            training_cases=[case.name for case in self.training_cases],
            validation_cases=[case.name for case in self.validation_cases],
            history=[EpochRecord(**record) for record in self.state["history"]],
        )
