"""The demo H&E tiles the nuclei U-Net is trained and validated on."""

from __future__ import annotations

from medview.demo import DemoCase, make_tile

SHAPE = (384, 384)
TRAIN_SEEDS = tuple(range(8))
VALIDATION_SEEDS = (100, 101)


def cases(seeds: tuple[int, ...]) -> list[DemoCase]:
    """Demo tiles at 0.5 µm/pixel."""
    return [make_tile(seed, SHAPE) for seed in seeds]
