"""Demo patches for the classifier: 64 x 64 pixels (10 cm) cut from demo radiographs at 1.6 mm.

A patch is ``nodule`` when a nodule centre lies at least 12 pixels inside it and ``no nodule`` when
no nodule box touches it; patches in between are ambiguous and never used.
"""

from __future__ import annotations

import numpy as np

from medview.core.scan import Scan
from medview.demo import make_radiograph
from medview.training.dataset import TrainingCase
from medview.training.objectives.base import case_spacing
from medview_plugins.patch_classifier.plugin import INFO

SHAPE = (256, 256)
PATCH = 64
MARGIN = 12
TRAIN_SEEDS = tuple(range(40))
VALIDATION_SEEDS = tuple(range(100, 120))


def patches(seeds: tuple[int, ...], per_image: int = 8) -> tuple[list[Scan], np.ndarray]:
    """Balanced patches (as scans with their own geometry) and their class index (1 = nodule)."""
    scans, classes = [], []
    for seed in seeds:
        case = make_radiograph(seed, SHAPE)
        rng = np.random.default_rng(seed)
        centres = [np.asarray(b.start) + np.asarray(b.size) / 2 for b in case.boxes]
        wanted = {0: per_image // 2, 1: per_image // 2}
        for _ in range(400):
            if not any(wanted.values()):
                break
            if wanted[1] and rng.random() < 0.5:
                corner = centres[rng.integers(len(centres))] - rng.uniform(MARGIN, PATCH - MARGIN, 2)
            else:
                corner = rng.uniform(0, np.asarray(SHAPE) - PATCH, 2)
            corner = np.clip(np.round(corner).astype(int), 0, np.asarray(SHAPE) - PATCH)
            label = _label(corner, case.boxes, centres)
            if label is None or not wanted[label]:
                continue
            wanted[label] -= 1
            pixels = case.scan.array[corner[0] : corner[0] + PATCH, corner[1] : corner[1] + PATCH]
            origin = case.scan.geometry.index_to_world(corner)
            geometry = type(case.scan.geometry).from_spacing(case.scan.spacing, origin)
            scans.append(Scan(pixels.copy(), geometry, "DX", f"{case.name}-patch{len(scans)}"))
            classes.append(label)
    return scans, np.asarray(classes)


def training_cases(seeds: tuple[int, ...], per_image: int = 8) -> list[TrainingCase]:
    """The patches of ``seeds`` with their class index (0 = no nodule, 1 = nodule, the model's order),
    as classification fine-tuning reads a case."""
    scans, classes = patches(seeds, per_image)
    training = []
    for scan, index in zip(scans, classes, strict=True):
        spacing, units = case_spacing(scan, INFO.input)
        label = np.asarray(index, np.int64)
        image = np.asarray(scan.array)
        training.append(TrainingCase(scan.name, image, label, scan.modality, spacing, units=units))
    return training


def _label(corner: np.ndarray, boxes, centres) -> int | None:
    inside = [np.all(c >= corner + MARGIN) and np.all(c <= corner + PATCH - MARGIN) for c in centres]
    if any(inside):
        return 1
    touching = [
        np.all(np.asarray(b.stop) > corner) and np.all(np.asarray(b.start) < corner + PATCH) for b in boxes
    ]
    return None if any(touching) else 0
