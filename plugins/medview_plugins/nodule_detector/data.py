"""The demo radiographs the detector is trained and validated on, at the network's 1.6 mm grid."""

from __future__ import annotations

from medview.demo import DemoCase, make_radiograph

SHAPE = (256, 256)
TRAIN_SEEDS = tuple(range(48))
VALIDATION_SEEDS = tuple(range(100, 116))


def cases(seeds: tuple[int, ...]) -> list[DemoCase]:
    """Demo radiographs at 1.6 mm (256 x 256)."""
    return [make_radiograph(seed, SHAPE) for seed in seeds]
