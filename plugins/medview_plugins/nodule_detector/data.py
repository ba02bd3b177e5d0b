"""The demo radiographs the detector is trained and validated on, at the network's 1.6 mm grid."""

from __future__ import annotations

import numpy as np

from medview.demo import DemoCase, make_radiograph
from medview.training.dataset import TrainingCase
from medview.training.objectives.base import case_spacing
from medview_plugins.nodule_detector.plugin import INFO

SHAPE = (256, 256)
TRAIN_SEEDS = tuple(range(48))
VALIDATION_SEEDS = tuple(range(100, 116))


def cases(seeds: tuple[int, ...]) -> list[DemoCase]:
    """Demo radiographs at 1.6 mm (256 x 256)."""
    return [make_radiograph(seed, SHAPE) for seed in seeds]


def training_cases(seeds: tuple[int, ...]) -> list[TrainingCase]:
    """The radiographs of ``seeds`` with their true boxes as rows ``[value, y0, x0, y1, x1]`` in the
    model's label values, as detection fine-tuning reads a case."""
    by_name = {label.name: label.value for label in INFO.labels}
    training = []
    for case in cases(seeds):
        rows = [[by_name[case.box_labels.name_of(box.label)], *box.start, *box.stop] for box in case.boxes]
        spacing, units = case_spacing(case.scan, INFO.input)
        boxes = np.asarray(rows, np.float64).reshape(len(rows), 5)
        image = np.asarray(case.scan.array)
        training.append(TrainingCase(case.name, image, boxes, case.scan.modality, spacing, units=units))
    return training
