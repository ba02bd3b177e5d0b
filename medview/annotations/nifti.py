"""Label maps as NIfTI (or NRRD/MHA) with the scan's exact geometry and a ``.labels.json`` sidecar.

Loading checks the annotation against its scan and refuses a different shape or voxel grid with
a message that says what differs; it is resampled (nearest neighbour, SimpleITK) only when the
caller asks for it.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import SimpleITK as sitk

from medview.core.errors import InputError
from medview.core.scan import LabelMap, Scan
from medview.io.open import open_label_map
from medview.io.sitk_convert import array_to_sitk
from medview.io.writers import write_label_map


class AnnotationMismatchError(InputError):
    """An annotation does not lie on its scan's voxel grid."""


def save_nifti(label_map: LabelMap, path: str | Path, scan: Scan | None = None) -> Path:
    """Write ``label_map`` (and its label table and provenance); refuses one that does not fit ``scan``."""
    if scan is not None:
        check_fits(label_map, scan, path)
    return write_label_map(label_map, path)


def load_nifti(path: str | Path, scan: Scan | None = None, resample: bool = False) -> LabelMap:
    """Read a label map and its sidecar; with ``scan``, refuse (or, if ``resample``, resample) a misfit.

    Raises:
        AnnotationMismatchError: the shape or geometry differs from ``scan`` and ``resample`` is False.
        ScanError: the file cannot be read or does not hold integers.
    """
    label_map = open_label_map(path)
    if scan is None:
        return label_map
    if resample and not label_map.fits(scan):
        return resample_onto(label_map, scan)
    check_fits(label_map, scan, path)
    return label_map


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
    if label_map.array.shape != scan.spatial_shape:
        raise AnnotationMismatchError(
            f"the annotation has shape {label_map.array.shape} but the scan {scan.name or ''} has "
            f"{scan.spatial_shape}; open the annotation that belongs to this scan, or resample it",
            path,
        )
    if not label_map.geometry.matches(scan.geometry):
        mine, theirs = label_map.geometry, scan.geometry
        raise AnnotationMismatchError(
            f"the annotation's voxel grid (spacing {_mm(mine.spacing)}, origin {_mm(mine.origin)}) differs "
            f"from the scan's (spacing {_mm(theirs.spacing)}, origin {_mm(theirs.origin)}); "
            "open the annotation that belongs to this scan, or resample it",
            path,
        )


def _mm(values: tuple[float, ...]) -> str:
    return "(" + ", ".join(f"{v:.4g}" for v in values) + ") mm"
