"""Training cases and their split into training and validation by case.

A case is one scan with its annotation, already in the model's terms (label values, box classes or
class index). Cases are split whole, so slices of one patient never sit on both sides of the split.
How a case becomes network input is its objective's business (:mod:`medview.training.objectives`).
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from medview.core.errors import InputError


@dataclass
class TrainingCase:
    """One annotated scan, ready for training.

    Attributes:
        name: shown to the user and recorded with the run.
        image: ``(z, y, x)``, ``(y, x)`` or ``(y, x, 3)`` for RGB.
        label: the annotation as an array, in the model's terms: a label map of the spatial shape
            (segmentation, 0 background), box corners ``(N, 2 * ndim)`` as ``start..., stop...`` in
            array index coordinates (detection), or a 0-d class index counted from 0 (classification).
        modality: DICOM modality code; chooses the augmentation.
        spacing: voxel size in array order (mm, or µm for slides); needed to resample to a model's
            target spacing.
        units: what ``spacing`` is measured in, as :attr:`medview.core.scan.Scan.units` (``pixel``
            when the scan's pixel size is unknown: a model that needs one refuses such a case).
        partial: only some slices are annotated (a case still in progress); the others are
            :data:`~medview.training.partial.IGNORE`. A partial case trains but never validates.
    """

    name: str
    image: np.ndarray
    label: np.ndarray
    modality: str = "OT"
    spacing: tuple[float, ...] | None = None
    partial: bool = False
    units: str = "mm"

    @property
    def rgb(self) -> bool:
        spatial = len(self.spacing) if self.spacing is not None else self.label.ndim
        return self.image.ndim == spatial + 1

    def digest(self) -> str:
        """SHA-256 of image and label, recorded with a run so its data can be recognised later."""
        hasher = hashlib.sha256()
        for array in (self.image, self.label):
            hasher.update(str((array.shape, array.dtype.str)).encode())
            hasher.update(np.ascontiguousarray(array).tobytes())
        return hasher.hexdigest()


def split_by_case(
    cases: Sequence[TrainingCase], validation_fraction: float, seed: int
) -> tuple[list[TrainingCase], list[TrainingCase]]:
    """Shuffle whole cases with ``seed`` and hold out ``validation_fraction`` of them (at least one).

    Only complete cases are held out: a partial case's annotated slices always train, so no slice of
    a case that trains is ever scored.
    """
    if len(cases) < 2:
        raise InputError(f"fine-tuning needs 2 or more annotated cases (one to validate), found {len(cases)}")
    names = [case.name for case in cases]
    if len(set(names)) != len(names):
        raise InputError("two annotated cases share a name; each case must be unique")
    complete = [case for case in cases if not case.partial]
    partial = [case for case in cases if case.partial]
    if not complete:
        raise InputError(
            "validation needs a finished (done) case: a case annotated on some slices only trains"
        )
    order = np.random.default_rng(seed).permutation(len(complete))
    most = len(complete) - (0 if partial else 1)  # something must be left to train on
    held_out = min(most, max(1, round(validation_fraction * len(cases))))
    validation = [complete[i] for i in sorted(order[:held_out])]
    held = {case.name for case in validation}
    training = [case for case in cases if case.name not in held]
    return training, validation
