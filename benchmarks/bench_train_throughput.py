"""Training throughput of ``medview.training.fine_tune`` against a bare PyTorch/MONAI loop.

Same network (the bundled CT U-Net, freshly initialised), same cases (demo CT, shifted domain, at the
network's grid), same patch and patches per step, same loss and optimiser; the bare loop crops random
patches from tensors already in memory and does nothing else. Throughput is patches per second of
training steps (validation excluded). A bare epoch runs right after each medview epoch, so each pair
sees the same load on a shared machine; the ratio is the median over pairs after the first (warm-up).
Both run in one process, so on the same cores, with the same torch thread count (``--threads``,
default 2) and data loaded in the training process (no loader workers) on both sides.

Prints one JSON line (``benchmarks/measurement.py``): ratio = medview patches/s / bare patches/s
(above 1 is medview faster). Target: ratio >= 0.9.

Run: ``nice .venv/bin/python benchmarks/bench_train_throughput.py [--epochs 6] [--threads 2]``.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time

import numpy as np
import torch
from measurement import available_cores, emit
from medview_plugins.ct_unet3d.data import SHAPE
from medview_plugins.ct_unet3d.plugin import INFO, PATCH, build_network
from monai.losses import DiceCELoss

from medview.demo import make_ct
from medview.training.config import TrainingConfig
from medview.training.loop import fine_tune
from medview.training.objectives.segmentation import case_from_annotation
from medview.training.trainable import TrainableModel

SEEDS = tuple(range(200, 206))  # 5 training cases + 1 validation case
EPOCHS = 6
BATCH = 2
SAMPLES_PER_CASE = 8
TARGET_RATIO = 0.9


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=EPOCHS, help="at least 2 (the first is a warm-up)")
    parser.add_argument("--threads", type=int, default=2, help="torch threads, both sides")
    args = parser.parse_args()
    if args.epochs < 2:
        parser.error("--epochs must be at least 2: the first epoch is a warm-up")
    torch.set_num_threads(args.threads)
    cases = [case_from_annotation(c.scan, c.truth, INFO.labels) for c in _demo_cases()]
    config = TrainingConfig(
        INFO.name,
        epochs=args.epochs,
        device="cpu",
        batch_size=BATCH,
        samples_per_case=SAMPLES_PER_CASE,
        validation_fraction=1 / len(SEEDS),
        learning_rate=1e-3,
    )
    bare = BareLoop(cases[:-1], steps=(len(SEEDS) - 1) // BATCH)
    with tempfile.TemporaryDirectory() as run_dir:
        # a bare epoch right after each medview epoch: both see the same load on a shared machine
        result = fine_tune(
            config, TrainableModel(INFO, build_network()), cases, run_dir, callbacks=[lambda _: bare.epoch()]
        )
    rates = [record.patches_per_second for record in result.history]
    ratios = [ours / theirs for ours, theirs in zip(rates[1:], bare.rates[1:], strict=True)]
    ratio = statistics.median(ratios)
    emit(
        "train_throughput",
        "training patches per second (validation excluded)",
        unit="patches/s",
        medview=round(statistics.median(rates[1:]), 2),
        reference="bare PyTorch loop, same network, data, patch, batch, loss, optimiser",
        reference_value=round(statistics.median(bare.rates[1:]), 2),
        threads={"medview": torch.get_num_threads(), "reference": torch.get_num_threads()},
        cores=len(available_cores()),
        ratio=ratio,
        ratio_definition="medview patches/s / reference patches/s (= reference_s / medview_s, speedup)",
        target=f"ratio >= {TARGET_RATIO:g}",
        meets_target=ratio >= TARGET_RATIO,
        epoch_ratios=[round(ratio, 3) for ratio in ratios],
        patch=list(PATCH),
        patches_per_step=BATCH * SAMPLES_PER_CASE,
        epochs=args.epochs,
        device="cpu",
    )


class BareLoop:
    """Random crops from tensors in memory, forward, DiceCE, backward, AdamW: nothing else."""

    def __init__(self, cases, steps: int) -> None:
        self.rng = np.random.default_rng(0)
        self.images = [torch.from_numpy(INFO.input.normalisation.apply(case.image))[None] for case in cases]
        self.labels = [torch.from_numpy(case.label.astype(np.int64))[None] for case in cases]
        self.network = build_network().train()
        self.loss = DiceCELoss(to_onehot_y=True, softmax=True)
        self.optimizer = torch.optim.AdamW(self.network.parameters(), lr=1e-3, weight_decay=1e-5)
        self.steps = steps
        self.rates: list[float] = []

    def epoch(self) -> None:
        """One epoch of as many patches as medview's; appends its patches per second to ``rates``."""
        started = time.perf_counter()
        for _ in range(self.steps):
            x, y = [], []
            for _ in range(BATCH * SAMPLES_PER_CASE):
                index = int(self.rng.integers(len(self.images)))
                start = [int(self.rng.integers(0, s - p + 1)) for s, p in zip(SHAPE, PATCH, strict=True)]
                window = (slice(None), *(slice(a, a + p) for a, p in zip(start, PATCH, strict=True)))
                x.append(self.images[index][window])
                y.append(self.labels[index][window])
            self.optimizer.zero_grad(set_to_none=True)
            self.loss(self.network(torch.stack(x)), torch.stack(y)).backward()
            self.optimizer.step()
        self.rates.append(self.steps * BATCH * SAMPLES_PER_CASE / (time.perf_counter() - started))


def _demo_cases():
    return [make_ct(seed, SHAPE, domain="shifted") for seed in SEEDS]


if __name__ == "__main__":
    main()
