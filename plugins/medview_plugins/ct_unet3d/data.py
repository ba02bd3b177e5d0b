"""The demo CT cases the U-Net is trained and validated on (shared by ``train.py`` and the tests)."""

from __future__ import annotations

from medview.demo import DemoCase, make_ct
from medview.training.dataset import TrainingCase
from medview_plugins.ct_unet3d.plugin import INFO
from medview_plugins.training import segmentation_case

SHAPE = (64, 96, 96)
TRAIN_SEEDS = tuple(range(12))
VALIDATION_SEEDS = (100, 101)


def cases(seeds: tuple[int, ...]) -> list[DemoCase]:
    """Demo CT phantoms at the network's own resolution."""
    return [make_ct(seed, SHAPE) for seed in seeds]


def training_cases(seeds: tuple[int, ...]) -> list[TrainingCase]:
    """The phantoms of ``seeds`` with their true labels, as segmentation fine-tuning reads a case."""
    return [segmentation_case(case, INFO) for case in cases(seeds)]
