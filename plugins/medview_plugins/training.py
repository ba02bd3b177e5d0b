"""What the bundled training scripts share: seeding, training from scratch with ``medview.training``,
the held-out scores and the model cards.

Training and the cards' numbers go through the same code as fine-tuning in a workspace: the plugin's
objective (:func:`medview.training.objectives.objective_for`) builds the patches and the loss,
:func:`medview.training.loop.fine_tune` trains, and validation predicts each held-out case through the
plugin and scores it with :mod:`medview.metrics.case_scores`. The tests recompute a card with
:func:`held_out_metrics`, the same path the training validation took.
"""

from __future__ import annotations

import math
import os
import shutil
import tempfile
import time
from collections.abc import Callable, Sequence
from datetime import date
from pathlib import Path
from types import ModuleType

import torch

from medview.demo import DemoCase
from medview.models.api import ModelInfo
from medview.models.network_plugin import NetworkPlugin
from medview.training.config import TrainingConfig
from medview.training.dataset import TrainingCase
from medview.training.loop import EpochRecord, RunResult, fine_tune
from medview.training.objectives import objective_for
from medview.training.objectives.base import case_spacing
from medview.training.objectives.segmentation import case_from_annotation
from medview.training.runner import trainable_model

SEED = 20251122


def make_reproducible(threads: int = 1) -> None:
    """Seed torch (the fresh network's initialisation), make it deterministic, and keep to ``threads``
    CPU threads; ``fine_tune`` seeds the patches and augmentation from the config's ``seed``."""
    torch.manual_seed(SEED)
    torch.set_num_threads(threads)
    torch.use_deterministic_algorithms(True)


SCRATCH_LEARNING_RATE = 3e-3
"""Peak AdamW rate of the bundled models' from-scratch training (fine-tuning uses a third of it)."""


def scratch_config(info: ModelInfo, **settings: object) -> TrainingConfig:
    """The bundled models' from-scratch run on the CPU, seeded, at :data:`SCRATCH_LEARNING_RATE`;
    ``settings`` are the model's own (epochs, batch, crops, augmentation)."""
    return TrainingConfig(
        info.name,
        from_scratch=True,
        device="cpu",
        learning_rate=SCRATCH_LEARNING_RATE,
        seed=SEED,
        **settings,
    )


def train_from_scratch(
    plugin: NetworkPlugin,
    config: TrainingConfig,
    training: Sequence[TrainingCase],
    validation: Sequence[TrainingCase],
    prepare: Callable[[torch.nn.Module], None] | None = None,
) -> RunResult:
    """Train a fresh network of ``plugin`` with its objective, validating on ``validation`` every epoch,
    and write the best epoch's weights to the plugin's ``weights_path``.

    ``prepare`` may adjust the fresh network before the first step (an initialisation of its own).
    """
    model = trainable_model(plugin, from_scratch=True)
    if prepare is not None:
        prepare(model.network)
    with tempfile.TemporaryDirectory(prefix=f"{plugin.info.name}-run-") as run_dir:
        result = fine_tune(
            config,
            model,
            [*training, *validation],
            run_dir,
            callbacks=[_print_epoch],
            objective=objective_for(plugin),
            validation=[case.name for case in validation],
        )
        shutil.copyfile(result.best_weights, plugin.weights_path)
    return result


def held_out_metrics(plugin: NetworkPlugin, cases: Sequence[TrainingCase]) -> dict[str, float]:
    """The plugin's validation metrics on ``cases``: what training validation computes each epoch."""
    objective = objective_for(plugin)
    return objective.summarise(objective.validate(plugin, cases))


def segmentation_case(demo: DemoCase, info: ModelInfo) -> TrainingCase:
    """A demo scan and its true label map as a training case in the model's classes and spacing unit,
    as segmentation fine-tuning reads a workspace case."""
    case = case_from_annotation(demo.scan, demo.truth, info.labels)
    case.spacing, case.units = case_spacing(demo.scan, info.input)
    return case


def run_facts(
    plugin: NetworkPlugin, config: TrainingConfig, result: RunResult, data: ModuleType, started: float
) -> dict[str, object]:
    """The model-card facts every training script reports: size, data grid, seeds, recipe and time taken.

    ``data`` is the plugin's data module, with ``SHAPE`` and ``TRAIN_SEEDS``; ``started`` a
    ``time.perf_counter()`` reading from the start of training.
    """
    return {
        "parameters": sum(p.numel() for p in plugin.network.parameters()),
        "shape": data.SHAPE,
        "train_seeds": f"{data.TRAIN_SEEDS[0]}-{data.TRAIN_SEEDS[-1]}",
        "epochs": config.epochs,
        "batch": config.batch_size,
        "samples": config.samples_per_case,
        "learning_rate": config.learning_rate,
        "steps_per_epoch": math.ceil(len(result.training_cases) / config.batch_size),
        "best_epoch": result.best_epoch,
        "minutes": (time.perf_counter() - started) / 60,
    }


def write_card(folder: Path, template: str, metrics: dict[str, float], **facts: object) -> Path:
    """Write ``MODEL_CARD.md`` from ``template`` (str.format fields) plus a metrics table."""
    table = "\n".join(f"| {name} | {value:.3f} |" for name, value in metrics.items())
    text = template.format(
        metrics="| metric | value |\n|---|---|\n" + table,
        date=date.today().isoformat(),
        torch=torch.__version__,
        threads=torch.get_num_threads(),
        host_cpus=os.cpu_count(),
        **facts,
    )
    path = folder / "MODEL_CARD.md"
    path.write_text(text)
    return path


def read_card_metrics(folder: Path) -> dict[str, float]:
    """The metrics table of a model card, for tests that recompute them."""
    metrics = {}
    for line in (folder / "MODEL_CARD.md").read_text().splitlines():
        cells = [cell.strip() for cell in line.strip().strip("|").split("|")]
        if len(cells) == 2 and cells[0] not in ("metric", "---"):
            try:
                metrics[cells[0]] = float(cells[1])
            except ValueError:
                continue
    return metrics


def _print_epoch(record: EpochRecord) -> None:
    print(
        f"epoch {record.epoch:3d}  loss {record.loss:.4f}  {record.metric} {record.val_score:.3f}  "
        f"lr {record.learning_rate:.2e}  {record.seconds / 60:.1f} min",
        flush=True,
    )
