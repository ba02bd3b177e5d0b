"""What the bundled training scripts share: seeding, a patch-based training loop and model cards."""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Sequence
from datetime import date
from pathlib import Path
from types import ModuleType

import numpy as np
import torch

SEED = 20251122


def make_reproducible(threads: int = 1) -> np.random.Generator:
    """Seed torch and numpy, make torch deterministic, and keep to ``threads`` CPU threads."""
    torch.manual_seed(SEED)
    torch.set_num_threads(threads)
    torch.use_deterministic_algorithms(True)
    return np.random.default_rng(SEED)


def random_crops(
    rng: np.random.Generator,
    images: Sequence[np.ndarray],
    targets: Sequence[np.ndarray],
    patch: Sequence[int],
    batch: int,
) -> tuple[torch.Tensor, torch.Tensor]:
    """A batch of random crops: images are ``(C, *spatial)``, targets ``(*spatial)`` integers."""
    xs, ys = [], []
    for _ in range(batch):
        index = int(rng.integers(len(images)))
        shape = targets[index].shape
        start = [int(rng.integers(0, s - p + 1)) for s, p in zip(shape, patch, strict=True)]
        window = tuple(slice(a, a + p) for a, p in zip(start, patch, strict=True))
        xs.append(images[index][(slice(None), *window)])
        ys.append(targets[index][window])
    return torch.from_numpy(np.stack(xs)).float(), torch.from_numpy(np.stack(ys)[:, None]).long()


def fit(
    network: torch.nn.Module,
    loss: Callable[[torch.Tensor, torch.Tensor], torch.Tensor],
    batches: Callable[[], tuple[torch.Tensor, torch.Tensor]],
    steps: int,
    learning_rate: float = 3e-3,
) -> list[float]:
    """Adam with a cosine schedule for ``steps`` steps; returns the loss of each step."""
    optimiser = torch.optim.Adam(network.parameters(), lr=learning_rate)
    schedule = torch.optim.lr_scheduler.CosineAnnealingLR(optimiser, steps)
    network.train()
    losses = []
    for step in range(steps):
        inputs, target = batches()
        optimiser.zero_grad()
        value = loss(network(inputs), target)
        value.backward()
        optimiser.step()
        schedule.step()
        losses.append(float(value.detach()))
        if step % 50 == 0 or step == steps - 1:
            print(f"step {step:4d}  loss {value:.4f}", flush=True)
    return losses


def run_facts(network: torch.nn.Module, data: ModuleType, started: float) -> dict[str, object]:
    """The model-card facts every training script reports: size, data grid, seeds and time taken.

    ``data`` is the plugin's data module, with ``SHAPE`` and ``TRAIN_SEEDS``; ``started`` a
    ``time.perf_counter()`` reading from the start of training.
    """
    return {
        "parameters": sum(p.numel() for p in network.parameters()),
        "shape": data.SHAPE,
        "train_seeds": f"{data.TRAIN_SEEDS[0]}-{data.TRAIN_SEEDS[-1]}",
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
