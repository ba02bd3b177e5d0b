"""Export an annotation in any format medview writes: one place that says what fits and writes it.

:func:`export_reason` tells, before anything is written, whether a format can hold an annotation
on its scan, and if not says why in one sentence a user can act on (the GUI greys out a format
with it, the CLI prints it). :func:`export_annotation` checks that, checks that the label map lies
on the scan, writes every file of the export (staged beside the output, then moved into place)
and returns them; when it fails nothing of the export is left behind.

DICOM SEG and RTSTRUCT reference the DICOM images they outline. For a scan that did not come
from DICOM, ``dicom_copy`` names a new or empty folder where a DICOM copy of the scan is written
first (:mod:`medview.io.dicom_series_writer`; a 2D scan becomes a series of one image), and the
segmentation references the copy.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
from collections.abc import Iterator, Sequence
from pathlib import Path

from medview.annotations.coco import write_coco
from medview.annotations.geojson import write_geojson
from medview.annotations.nifti import check_fits
from medview.annotations.rtstruct import write_rtstruct
from medview.annotations.seg import (
    SEGMENTATION_TYPES,
    seg_capacity_reason,
    source_datasets,
    write_dicom_seg,
)
from medview.annotations.seg_nrrd import write_slicer_segmentation
from medview.core.boxes import Box
from medview.core.errors import InputError
from medview.core.labels import LabelClass, LabelTable
from medview.core.scan import LabelMap, Scan
from medview.io.dicom_series_writer import check_copy_folder, dicom_copy_reason, write_dicom_series
from medview.io.writers import write_label_map

FORMATS = ("nifti", "nrrd", "seg", "rtstruct", "coco", "geojson")
FORMAT_NAMES = {
    "nifti": "NIfTI",
    "nrrd": "3D Slicer segmentation",
    "seg": "DICOM SEG",
    "rtstruct": "RTSTRUCT",
    "coco": "COCO",
    "geojson": "GeoJSON",
}
SUFFIXES = {
    "nifti": (".nii.gz", ".nii"),
    "nrrd": (".seg.nrrd", ".nrrd"),
    "seg": (".dcm",),
    "rtstruct": (".dcm",),
    "coco": (".json",),
    "geojson": (".geojson", ".json"),
}
_LABEL_MAP_FORMATS = ("nifti", "nrrd", "seg", "rtstruct", "geojson")
_IN_3D = "export it as NIfTI, NRRD or DICOM SEG"
_DOWNSAMPLE_TOLERANCE = 0.01  # a level's size may be rounded: 1000 pixels over 3 is 333


def format_from_path(path: str | Path) -> str:
    """The export format a file name asks for: ``.dcm`` is a DICOM SEG, ``.json`` COCO.

    Raises:
        InputError: the name ends in none of the export suffixes.
    """
    name = Path(path).name.lower()
    for suffix, fmt in (
        (".nii.gz", "nifti"),
        (".nii", "nifti"),
        (".nrrd", "nrrd"),
        (".dcm", "seg"),
        (".geojson", "geojson"),
        (".json", "coco"),
    ):
        if name.endswith(suffix):
            return fmt
    raise InputError(
        "cannot tell the export format from the name; end it in .nii.gz, .seg.nrrd, .dcm, .json or "
        ".geojson, or name the format",
        path,
    )


def export_reason(
    fmt: str,
    scan: Scan,
    label_map: LabelMap | None = None,
    boxes: Sequence[Box] | None = None,
    *,
    seg_type: str = "binary",
    dicom_copy: str | Path | None = None,
) -> str | None:
    """``None`` when ``fmt`` can hold this annotation of ``scan``, else one sentence saying why not.

    ``dicom_copy`` says whether a folder for a DICOM copy is given (DICOM SEG and RTSTRUCT of a
    scan that is not DICOM); only its presence matters here.
    """
    if fmt not in FORMATS:
        raise ValueError(f"the export formats are {', '.join(FORMATS)}, not {fmt!r}")
    name = FORMAT_NAMES[fmt]
    if fmt in _LABEL_MAP_FORMATS and boxes:
        return f"{name} holds label maps, not boxes; export the boxes as COCO"
    if label_map is None and not boxes:
        return "nothing to export: there is no label map" + (" and no box" if fmt == "coco" else "")
    lowest = int(label_map.array.min()) if label_map is not None and label_map.array.size else 0
    if lowest < 0:
        return f"label values are 0 (background) or positive; this annotation holds {lowest}"
    if fmt == "nrrd":
        return _nrrd_reason(scan)
    if fmt in ("seg", "rtstruct"):
        return _dicom_reason(fmt, scan, label_map, dicom_copy, seg_type)
    if fmt == "coco":
        return _coco_reason(scan, boxes)
    if fmt == "geojson":
        return _flat_reason(scan, "GeoJSON is for 2D images and slides")
    return None


def export_annotation(
    fmt: str,
    path: str | Path,
    scan: Scan,
    label_map: LabelMap | None = None,
    boxes: Sequence[Box] | None = None,
    box_labels: LabelTable | None = None,
    *,
    seg_type: str = "binary",
    dicom_copy: str | Path | None = None,
    level_downsample: float = 1.0,
) -> list[Path]:
    """Write the annotation of ``scan`` as ``fmt`` to ``path``; returns the files written.

    Args:
        fmt: one of :data:`FORMATS` (:func:`format_from_path` picks it from a name).
        label_map: the label map, on the scan's grid (or, for GeoJSON of a slide, on the pyramid
            level ``level_downsample`` times smaller).
        boxes: 2D boxes, for COCO, named by ``box_labels``.
        seg_type: ``labelmap`` or ``binary`` DICOM SEG.
        dicom_copy: a new or empty folder for a DICOM copy of a scan that is not DICOM, which a
            DICOM SEG or RTSTRUCT then references; returned after the segmentation when written.
        level_downsample: level-0 pixels per label-map pixel, for GeoJSON of a slide.

    Raises:
        InputError: the format cannot hold the annotation (:func:`export_reason`), the name does
            not suit the format, or the label map does not lie on the scan; nothing is written.
    """
    path = Path(path)
    if seg_type not in SEGMENTATION_TYPES:
        raise InputError(f"the DICOM SEG types are {' and '.join(SEGMENTATION_TYPES)}, not {seg_type!r}")
    reason = export_reason(fmt, scan, label_map, boxes, seg_type=seg_type, dicom_copy=dicom_copy)
    if reason:
        raise InputError(reason, path)
    if not path.name.lower().endswith(SUFFIXES[fmt]):
        suffixes = " or ".join(SUFFIXES[fmt])
        raise InputError(f"the name of a {FORMAT_NAMES[fmt]} file ends in {suffixes}", path)
    if label_map is not None:
        _check_placement(fmt, label_map, scan, path, level_downsample)
    if fmt in ("seg", "rtstruct"):
        return _export_dicom(fmt, path, scan, label_map, seg_type, dicom_copy)
    written: list[Path] = []
    with _staged(path, written) as staged:
        if fmt == "nifti":
            write_label_map(label_map, staged)
        elif fmt == "nrrd":
            write_slicer_segmentation(label_map, staged)
        elif fmt == "coco":
            labels = _categories(label_map, boxes, box_labels)
            arrays = {} if label_map is None else {_image_name(scan): label_map.array}
            write_coco(staged, {_image_name(scan): (scan.spatial_shape, list(boxes or ()))}, labels, arrays)
        else:
            write_geojson(label_map, staged, level_downsample)
    return written


def _nrrd_reason(scan: Scan) -> str | None:
    if scan.units == "um":
        return "3D Slicer measures in mm; this slide is calibrated in µm — export it as GeoJSON"
    return None


def _dicom_reason(
    fmt: str, scan: Scan, label_map: LabelMap | None, dicom_copy: str | Path | None, seg_type: str
) -> str | None:
    if fmt == "rtstruct" and scan.geometry.ndim != 3:
        return (
            "RTSTRUCT holds contours on the slices of a 3D series; this scan is 2D — export it as DICOM SEG"
        )
    if not label_map.array.any():
        return "nothing to export: the annotation is empty"
    if fmt == "seg":
        reason = seg_capacity_reason(label_map, seg_type)
        if reason:
            return reason
    if _is_dicom(scan):
        return None
    if dicom_copy is None:
        opened = Path(scan.source).name if scan.source else (scan.name or "memory")
        return (
            "DICOM SEG and RTSTRUCT reference the DICOM images they outline; this scan was opened "
            f"from {opened}, not DICOM — give a folder for a DICOM copy of the scan (--dicom-copy)"
        )
    return dicom_copy_reason(scan)


def _coco_reason(scan: Scan, boxes: Sequence[Box] | None) -> str | None:
    if any(box.ndim != 2 for box in boxes or ()):
        return (
            "COCO holds boxes and outlines of 2D images; these boxes are 3D — keep them as medview box JSON"
        )
    if any(box.label < 1 for box in boxes or ()):
        return "COCO category ids are the box labels, which start at 1; a box here has label 0 or less"
    return _flat_reason(scan, "COCO holds boxes and outlines of 2D images")


def _flat_reason(scan: Scan, what: str) -> str | None:
    return None if scan.geometry.ndim == 2 else f"{what}; this annotation is 3D — {_IN_3D}"


def _check_placement(fmt: str, label_map: LabelMap, scan: Scan, path: Path, downsample: float) -> None:
    """Refuse a label map that lies neither on the scan nor (GeoJSON) on its ``downsample`` level."""
    if downsample == 1.0:
        check_fits(label_map, scan, path)
        return
    if fmt != "geojson" or not scan.is_multiscale:
        raise InputError(
            "only GeoJSON of a multiscale slide takes an annotation drawn on a smaller pyramid level", path
        )
    full = scan.spatial_shape
    for level in scan.levels:
        shape = tuple(int(n) for n in level.shape[: len(full)])
        ratios = [whole / part for whole, part in zip(full, shape, strict=True)]
        if shape == label_map.array.shape and all(
            abs(ratio - downsample) <= _DOWNSAMPLE_TOLERANCE * downsample for ratio in ratios
        ):
            return
    raise InputError(
        f"the annotation's size {label_map.array.shape} is not that of the slide's level downsampled "
        f"{downsample:g} times; export it from the level it was drawn on",
        path,
    )


def _export_dicom(
    fmt: str,
    path: Path,
    scan: Scan,
    label_map: LabelMap,
    seg_type: str,
    dicom_copy: str | Path | None,
) -> list[Path]:
    """A SEG or RTSTRUCT of the scan's DICOM images, or of a DICOM copy written first."""
    copy, existed = None, False
    if _is_dicom(scan):
        datasets = source_datasets(scan)
    else:
        copy = Path(dicom_copy)
        check_copy_folder(copy)
        existed = copy.is_dir()
        datasets = write_dicom_series(scan, copy)
    written: list[Path] = []
    try:
        with _staged(path, written) as staged:
            if fmt == "seg":
                write_dicom_seg(label_map, datasets, staged, seg_type)
            else:
                write_rtstruct(label_map, datasets, staged)
    except BaseException:
        if copy is not None:
            shutil.rmtree(copy, ignore_errors=True)
            if existed:
                copy.mkdir()
        raise
    return written + ([copy] if copy is not None else [])


@contextlib.contextmanager
def _staged(path: Path, written: list[Path]) -> Iterator[Path]:
    """Yield ``path``'s name in a fresh folder beside it; what is written there then moves beside it.

    The files moved are appended to ``written``, the output before its sidecar. When the block or
    a move fails, the folder and any file already moved are removed.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    folder = Path(tempfile.mkdtemp(prefix=".medview-export.", dir=path.parent))
    moved: list[Path] = []
    try:
        yield folder / path.name
        for staged in sorted(folder.iterdir(), key=lambda item: item != folder / path.name):
            os.replace(staged, path.parent / staged.name)
            moved.append(path.parent / staged.name)
    except BaseException:
        for done in moved:
            done.unlink(missing_ok=True)
        raise
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    written.extend(moved)


def _categories(
    label_map: LabelMap | None, boxes: Sequence[Box] | None, box_labels: LabelTable | None
) -> LabelTable:
    """The COCO categories: the label map's classes, then the box labels', then any unnamed value."""
    classes: dict[int, LabelClass] = {}
    for table in (label_map.labels if label_map is not None else (), box_labels or ()):
        for label in table:
            classes.setdefault(label.value, label)
    used = {box.label for box in boxes or ()}
    if label_map is not None:
        used.update(label_map.present_values())
    for value in sorted(used - set(classes)):
        classes[value] = LabelClass(value, f"label {value}", (255, 0, 255))
    names = LabelTable()
    for label in sorted(classes.values(), key=lambda label: label.value):
        taken = label.name in {existing.name for existing in names}
        names.add(
            LabelClass(label.value, f"{label.name} ({label.value})" if taken else label.name, label.colour)
        )
    return names


def _is_dicom(scan: Scan) -> bool:
    """True for a scan read from DICOM files, whose headers ``source_datasets`` can read back."""
    return bool(scan.source) and "series_uid" in scan.metadata


def _image_name(scan: Scan) -> str:
    return Path(scan.source).name if scan.source else (scan.name or "image")
