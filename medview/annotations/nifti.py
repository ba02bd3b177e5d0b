"""Label maps as NIfTI (or NRRD/MHA) with the scan's exact geometry and a ``.labels.json`` sidecar.

Loading checks the annotation against its scan and refuses a different shape or voxel grid with
a message that says what differs (:func:`~medview.annotations.fit.describe_misfit`); it is
resampled (nearest neighbour, SimpleITK) only when the caller asks for it and the two overlap.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import SimpleITK as sitk

from medview.annotations.fit import Misfit, describe_misfit
from medview.core.errors import InputError
from medview.core.scan import LabelMap, Scan
from medview.io.open import open_label_map, scan_format
from medview.io.sitk_convert import array_to_sitk
from medview.io.writers import write_label_map

RESAMPLE_HINT = "; resample it nearest-neighbour onto the scan to use it"


class AnnotationMismatchError(InputError):
    """An annotation does not lie on its scan's voxel grid.

    Attributes:
        misfit: how the annotation's grid differs, for a label map on a grid of its own; offer
            resampling only when ``misfit.overlaps``. ``None`` for mismatches that resampling cannot
            mend (a SEG of another series, boxes of an image of another size).
    """

    def __init__(self, message: str, path: str | Path | None = None, misfit: Misfit | None = None) -> None:
        super().__init__(message, path)
        self.misfit = misfit

    @classmethod
    def from_misfit(cls, misfit: Misfit, path: str | Path | None = None) -> AnnotationMismatchError:
        """The error for ``misfit``; its message suggests resampling only when that would keep something."""
        return cls(misfit.message + (RESAMPLE_HINT if misfit.overlaps else ""), path, misfit)


def save_nifti(label_map: LabelMap, path: str | Path, scan: Scan | None = None) -> Path:
    """Write ``label_map`` (and its label table and provenance); refuses one that does not fit ``scan``."""
    if scan is not None:
        check_fits(label_map, scan, path)
    return write_label_map(label_map, path)


def load_nifti(path: str | Path, scan: Scan | None = None, resample: bool = False) -> LabelMap:
    """Read a label map and its sidecar; with ``scan``, refuse (or, if ``resample``, resample) a misfit.

    Raises:
        AnnotationMismatchError: the shape or geometry differs from ``scan`` and ``resample`` is
            False, or the two do not overlap at all.
        ScanError: the file cannot be read or does not hold integers.
    """
    if scan is not None and scan_format(Path(path)) == "image":
        return open_label_map(path, like=scan)  # a PNG/TIFF mask stores no geometry: it takes the scan's
    label_map = open_label_map(path)
    return label_map if scan is None else fit_onto(label_map, scan, path, resample)


def fit_onto(
    label_map: LabelMap, scan: Scan, path: str | Path | None = None, resample: bool = False
) -> LabelMap:
    """``label_map`` itself when it lies on ``scan``'s grid, resampled onto it when ``resample``.

    Raises:
        AnnotationMismatchError: it does not fit and ``resample`` is False, or resampling would
            keep nothing of it (no overlap, or 2D against 3D).
    """
    misfit = describe_misfit(label_map.array.shape, label_map.geometry, scan)
    if misfit is None:
        return label_map
    if resample and misfit.overlaps:
        return resample_onto(label_map, scan)
    raise AnnotationMismatchError.from_misfit(misfit, path)


def resample_onto(label_map: LabelMap, scan: Scan) -> LabelMap:
    """``label_map`` resampled (nearest neighbour) onto the scan's voxel grid; outside is background."""
    reference = array_to_sitk(np.zeros(scan.spatial_shape, dtype=np.uint8), scan.geometry)
    image = array_to_sitk(label_map.array, label_map.geometry)
    resampled = sitk.Resample(
        image, reference, sitk.Transform(), sitk.sitkNearestNeighbor, 0, image.GetPixelID()
    )
    return LabelMap(sitk.GetArrayFromImage(resampled), scan.geometry, label_map.labels, label_map.provenance)


def check_fits(label_map: LabelMap, scan: Scan, path: str | Path | None = None) -> None:
    """Raise :class:`AnnotationMismatchError` saying how ``label_map`` and ``scan`` differ, if they do."""
    misfit = describe_misfit(label_map.array.shape, label_map.geometry, scan)
    if misfit is not None:
        raise AnnotationMismatchError.from_misfit(misfit, path)
