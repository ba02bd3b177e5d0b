"""Write scans and label maps to NIfTI/NRRD/MHA (by extension) or PNG/TIFF (2D), atomically."""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import SimpleITK as sitk

from medview.core.boxes import Box
from medview.core.errors import InputError
from medview.core.labels import LabelTable
from medview.core.scan import LabelMap, Scan
from medview.io.atomic import write_text_atomic, write_with_atomic
from medview.io.dicom_writer import write_dicom_image
from medview.io.sitk_convert import array_to_sitk
from medview.io.slide_writer import write_slide_tiff

VOLUME_SUFFIXES = (".nii", ".nii.gz", ".nrrd", ".mha", ".mhd")
IMAGE_SUFFIXES = (".png", ".tif", ".tiff")
DICOM_SUFFIX = ".dcm"


def write_scan(scan: Scan, path: str | Path) -> Path:
    """Write ``scan`` with its exact geometry; the format follows the file name's extension.

    ``.dcm`` writes a 2D greyscale scan as a DICOM projection image with its PixelSpacing; ``.tif``
    writes a scan calibrated in µm as a pyramidal OME-TIFF with that calibration; the other formats
    go through SimpleITK.
    """
    path = Path(path)
    if path.name.lower().endswith(DICOM_SUFFIX):
        return write_dicom_image(scan, path)
    _check_suffix(path)
    if scan.units == "um" and path.name.lower().endswith((".tif", ".tiff")):
        return write_slide_tiff(scan, path)
    image = array_to_sitk(np.asarray(scan.array), scan.geometry, rgb=scan.rgb)
    write_with_atomic(path, lambda temporary: sitk.WriteImage(image, str(temporary), useCompression=True))
    return path


def write_label_map(label_map: LabelMap, path: str | Path) -> Path:
    """Write a label map (geometry exact) and its label table and provenance as ``<name>.labels.json``."""
    path = Path(path)
    _check_suffix(path)
    image = array_to_sitk(label_map.array, label_map.geometry)
    write_with_atomic(path, lambda temporary: sitk.WriteImage(image, str(temporary), useCompression=True))
    sidecar = {"labels": label_map.labels.to_dict(), "provenance": label_map.provenance.to_dict()}
    write_text_atomic(label_table_path(path), json.dumps(sidecar, indent=2))
    return path


def write_boxes(
    boxes: Sequence[Box], path: str | Path, labels: LabelTable | None = None, scan_name: str = ""
) -> Path:
    """Write boxes as medview box JSON: ``{"scan": ..., "labels": ..., "boxes": [...]}``."""
    document = {
        "scan": scan_name,
        "labels": (labels or LabelTable()).to_dict(),
        "boxes": [box.to_dict() for box in boxes],
    }
    write_text_atomic(path, json.dumps(document, indent=2))
    return Path(path)


def label_table_path(label_map_path: str | Path) -> Path:
    """The JSON sidecar that holds a label map's label table: ``case.nii.gz`` -> ``case.labels.json``."""
    path = Path(label_map_path)
    stem = path.name
    for suffix in VOLUME_SUFFIXES + IMAGE_SUFFIXES:
        if stem.lower().endswith(suffix):
            stem = stem[: -len(suffix)]
            break
    return path.with_name(f"{stem}.labels.json")


def _check_suffix(path: Path) -> None:
    if not path.name.lower().endswith(VOLUME_SUFFIXES + IMAGE_SUFFIXES):
        raise InputError(
            f"cannot tell the format from the name; use one of {', '.join(VOLUME_SUFFIXES + IMAGE_SUFFIXES)}",
            path,
        )
