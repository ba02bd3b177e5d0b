"""The demo H&E tiles the nuclei U-Net is trained and validated on (shared by ``train.py`` and the tests)."""

from __future__ import annotations

from medview.demo import DemoCase, make_tile
from medview.training.dataset import TrainingCase
from medview_plugins.nuclei_unet2d.plugin import INFO
from medview_plugins.training import segmentation_case

SHAPE = (384, 384)
TRAIN_SEEDS = tuple(range(8))
VALIDATION_SEEDS = (100, 101)


def cases(seeds: tuple[int, ...]) -> list[DemoCase]:
    """Demo tiles at 0.5 µm/pixel."""
    return [make_tile(seed, SHAPE) for seed in seeds]


def training_cases(seeds: tuple[int, ...]) -> list[TrainingCase]:
    """The tiles of ``seeds`` with their true nuclei, as segmentation fine-tuning reads a case."""
    return [segmentation_case(case, INFO) for case in cases(seeds)]
