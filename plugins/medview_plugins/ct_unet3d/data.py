"""The demo CT cases the U-Net is trained and validated on (shared by ``train.py`` and the tests)."""

from __future__ import annotations

from medview.demo import DemoCase, make_ct

SHAPE = (64, 96, 96)
TRAIN_SEEDS = tuple(range(12))
VALIDATION_SEEDS = (100, 101)


def cases(seeds: tuple[int, ...]) -> list[DemoCase]:
    """Demo CT phantoms at the network's own resolution."""
    return [make_ct(seed, SHAPE) for seed in seeds]
