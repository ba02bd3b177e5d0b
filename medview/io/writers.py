"""Write scans and label maps to NIfTI/NRRD/MHA (by extension) or PNG/TIFF/DICOM (2D), atomically.

Each writer first asks :mod:`medview.io.format_capacity` whether the format holds the data exactly,
so a refused write leaves nothing behind.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path

import SimpleITK as sitk

from medview.core.boxes import Box
from medview.core.labels import LabelTable
from medview.core.scan import LabelMap, Scan
from medview.io.atomic import write_text_atomic, write_with_atomic
from medview.io.dicom_writer import write_dicom_image
from medview.io.format_capacity import DICOM_IMAGE, TIFF, check_suffix, writable_array
from medview.io.sitk_convert import array_to_sitk
from medview.io.slide_writer import write_slide_tiff

LABEL_MAP_SUFFIXES = (".nii", ".nii.gz", ".nrrd", ".mha", ".mhd", ".png", ".tif", ".tiff")
"""Names a label map file may end with (``.mhd`` is read, not written); its sidecar drops them."""


def write_scan(scan: Scan, path: str | Path) -> Path:
    """Write ``scan`` with its exact geometry; the format follows the file name's extension.

    ``.dcm`` writes a 2D greyscale scan as a DICOM projection image with its PixelSpacing; ``.tif``
    writes a scan calibrated in µm as a pyramidal OME-TIFF with that calibration; the other formats
    go through SimpleITK (a 3D + time scan as a 4D file).

    Raises:
        InputError: before anything is written, when the format cannot hold the scan exactly
            (:mod:`medview.io.format_capacity`).
    """
    path = Path(path)
    found = check_suffix(path, "scan")
    if found is DICOM_IMAGE:
        return write_dicom_image(scan, path)
    if found is TIFF and scan.units == "um":
        return write_slide_tiff(scan, path)
    array = writable_array(
        scan.array, path, kind="scan", ndim=scan.geometry.ndim, rgb=scan.rgb, time_axis=scan.has_time_axis
    )
    image = array_to_sitk(array, scan.geometry, rgb=scan.rgb, time_axis=scan.has_time_axis)
    write_with_atomic(path, lambda temporary: sitk.WriteImage(image, str(temporary), useCompression=True))
    return path


def write_label_map(label_map: LabelMap, path: str | Path) -> Path:
    """Write a label map (geometry exact) and its label table and provenance as ``<name>.labels.json``.

    Raises:
        InputError: before anything is written, when the format cannot hold every label exactly
            (a 3D map to PNG, labels above 65535 or below 0 to PNG).
    """
    path = Path(path)
    array = writable_array(label_map.array, path, kind="label map", ndim=label_map.geometry.ndim)
    image = array_to_sitk(array, label_map.geometry)
    write_with_atomic(path, lambda temporary: sitk.WriteImage(image, str(temporary), useCompression=True))
    sidecar = {"labels": label_map.labels.to_dict(), "provenance": label_map.provenance.to_dict()}
    write_text_atomic(label_table_path(path), json.dumps(sidecar, indent=2))
    return path


def write_boxes(
    boxes: Sequence[Box], path: str | Path, labels: LabelTable | None = None, scan_name: str = ""
) -> Path:
    """Write boxes as medview box JSON: ``{"scan": ..., "labels": ..., "boxes": [...]}``.

    Raises:
        InputError: ``path`` is not a ``.json`` name.
    """
    check_suffix(path, "boxes")
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
    for suffix in LABEL_MAP_SUFFIXES:
        if stem.lower().endswith(suffix):
            stem = stem[: -len(suffix)]
            break
    return path.with_name(f"{stem}.labels.json")
