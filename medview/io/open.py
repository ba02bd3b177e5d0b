"""Open whatever the user points at: one entry point that tells formats apart and names what is wrong."""

from __future__ import annotations

import json
import struct
import zlib
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import replace
from pathlib import Path
from typing import NamedTuple

import numpy as np
import pydicom.errors

from medview.core.boxes import Box
from medview.core.labels import LabelTable, default_table
from medview.core.misfit import describe_misfit
from medview.core.provenance import Provenance
from medview.core.scan import LabelMap, Scan
from medview.core.windows import default_window
from medview.io import image2d, sitk_reader, slide
from medview.io.dicom_reader import read_series
from medview.io.dicom_seg import attach_segs, is_seg_series, open_seg
from medview.io.dicom_series import DicomSeries, SeriesInfo, find_series, is_dicom_file
from medview.io.errors import ScanError
from medview.io.pixel_checks import check_series_pixels
from medview.io.slicer_segments import read_segment_table
from medview.io.writers import label_table_path

SUPPORTED_SUFFIXES = (".dcm",) + sitk_reader.SUFFIXES + image2d.SUFFIXES + slide.OPENSLIDE_SUFFIXES
_MAGIC = {
    b"\x89PNG": "image",
    b"\xff\xd8\xff": "image",
    b"BM": "image",
    b"II*\x00": "tiff",
    b"MM\x00*": "tiff",
    b"II+\x00": "tiff",  # BigTIFF
    b"MM\x00+": "tiff",
}
# What the libraries under the readers (pydicom, tifffile, imageio, SimpleITK, zlib) raise on a
# damaged file that no reader foresaw. The last line of defence: the user is told which file cannot
# be read instead of seeing a traceback. AttributeError, TypeError and the like are not here: they
# are medview's own mistakes and must stay loud.
_LIBRARY_ERRORS = (
    ValueError,
    NotImplementedError,
    RuntimeError,
    OSError,
    EOFError,
    struct.error,
    zlib.error,
    pydicom.errors.InvalidDicomError,
    pydicom.errors.BytesLengthException,
)


class BoxSet(NamedTuple):
    """What a medview box file holds."""

    boxes: list[Box]
    labels: LabelTable
    scan_name: str


def open_scan(path: str | Path, series_uid: str | None = None) -> Scan:
    """Open a scan file or a DICOM folder, with its geometry and a default display window.

    For a DICOM folder holding several series, ``series_uid`` picks one (see :func:`list_series`);
    without it the series with the most images opens. ``scan.metadata["series"]`` lists them all.
    Label maps that came with the scan are in ``scan.attached``: the DICOM SEGs of the folder that
    segment the series, and overlay planes. A DICOM SEG (a file, or picked by ``series_uid``) opens
    as the series it segments, with the segmentation attached; alone when that series is not there.

    Raises:
        ScanError: the path is missing, empty, of an unknown format, or its content is invalid;
            the message names the file and the problem.
    """
    path = Path(path)
    with _library_errors_refused(path):
        kind = scan_format(path)
        if kind == "dicom":
            scan = _open_dicom(path, series_uid)
        elif kind == "volume":
            scan = sitk_reader.read_volume(path)
        elif kind == "slide":
            scan = slide.open_slide(path)
        else:
            scan = image2d.read_image(path)
        if scan.window is None:
            scan.window = default_window(scan)
    return scan


def list_series(path: str | Path) -> list[SeriesInfo]:
    """The DICOM series in a file or folder, most images first; empty for other formats."""
    path = Path(path)
    if scan_format(path) != "dicom":
        return []
    with _library_errors_refused(path):
        return [series.info() for series in _find_series(path)]


def scan_format(path: Path) -> str:
    """``dicom``, ``volume`` (SimpleITK), ``slide`` or ``image``, from magic bytes then extension."""
    if not path.exists():
        raise ScanError("no such file or folder", path)
    if path.is_dir():
        return "dicom"
    if path.stat().st_size == 0:
        raise ScanError("the file is empty (0 bytes)", path)
    name = path.name.lower()
    if is_dicom_file(path) or name.endswith(".dcm"):
        return "dicom"
    if name.endswith(sitk_reader.SUFFIXES):
        return "volume"
    if name.endswith(slide.OPENSLIDE_SUFFIXES):
        return "slide"
    with open(path, "rb") as handle:
        head = handle.read(4)
    kind = next((kind for magic, kind in _MAGIC.items() if head.startswith(magic)), None)
    if kind == "tiff":
        return "slide" if slide.is_slide_tiff(path) else "image"
    if kind is not None:
        return kind
    raise ScanError(
        "not an image medview can open: neither DICOM nor a known image format "
        f"({', '.join(SUPPORTED_SUFFIXES)})",
        path,
    )


def open_label_map(path: str | Path, like: Scan | None = None) -> LabelMap:
    """Read a label map and its ``<name>.labels.json`` sidecar (label table and provenance).

    PNG/TIFF cannot store geometry, so a 2D picture label map takes ``like``'s geometry. Without a
    sidecar table, a 3D Slicer ``.seg.nrrd``'s segment names, colours and values are the table;
    values present in the array that no table names get ``label N`` and a colour of their own
    (:func:`~medview.core.labels.default_table`), so no two classes look alike.

    Raises:
        ScanError: non-integer values, colour pixels, a Slicer segmentation of several layers, or a
            grid that does not fit ``like`` (the message says how it differs).
    """
    path = Path(path)
    kind = scan_format(path)
    if kind not in ("volume", "image"):
        raise ScanError("a label map must be NIfTI, NRRD, MHA, PNG or TIFF", path)
    segments = read_segment_table(path) if path.name.lower().endswith((".nrrd", ".nhdr")) else None
    image = sitk_reader.read_volume(path) if kind == "volume" else image2d.read_image(path)
    if image.rgb or image.has_time_axis:
        raise ScanError("a label map holds one integer per voxel, not colour or time frames", path)
    array = _integer_labels(np.asarray(image.array), path)
    geometry = like.geometry if like is not None and kind == "image" else image.geometry
    if like is not None:
        misfit = describe_misfit(array.shape, geometry, like)
        if misfit is not None:
            raise ScanError(misfit.message, path)
    labels, provenance = _sidecar(path)
    if not len(labels) and segments is not None:
        labels = segments
    return LabelMap(array, geometry, _named_present(labels, array), provenance)


def read_boxes(path: str | Path) -> BoxSet:
    """Read a medview box JSON file (as written by ``write_boxes``)."""
    path = Path(path)
    try:
        document = json.loads(Path(path).read_text(encoding="utf-8"))
        boxes = [Box.from_dict(item) for item in document["boxes"]]
        labels = LabelTable.from_dict(document["labels"]) if "labels" in document else LabelTable()
    except FileNotFoundError as error:
        raise ScanError("no such file", path) from error
    except (json.JSONDecodeError, UnicodeDecodeError, KeyError, TypeError, ValueError) as error:
        raise ScanError(f"not a medview box file ({error})", path) from error
    return BoxSet(boxes, labels, str(document.get("scan", "")))


def _open_dicom(path: Path, series_uid: str | None) -> Scan:
    """A DICOM series; a SEG opens as the series it segments, with the segmentation attached."""
    found = _find_series(path)
    chosen = _pick(found, series_uid, path)
    if is_seg_series(chosen):
        check_series_pixels(chosen)
        scan = open_seg(chosen.paths[0], None if path.is_file() else found)
    else:
        scan = read_series(chosen)
        attach_segs(scan, chosen, found)
    scan.metadata["series"] = [series.info() for series in found]
    return scan


def _find_series(path: Path) -> list[DicomSeries]:
    """The series of a file or folder, largest first, segmentations after every image series."""
    try:
        found = find_series(path)
    except MemoryError as error:
        # Only headers are parsed here: memory runs out only for an element whose length field is
        # damaged (pydicom allocates the length it reads).
        raise ScanError(
            "a DICOM header is damaged: an element claims more bytes than memory holds", path
        ) from error
    return sorted(found, key=is_seg_series)


@contextmanager
def _library_errors_refused(path: Path) -> Iterator[None]:
    try:
        yield
    except ScanError:
        raise
    except _LIBRARY_ERRORS as error:
        reason = " ".join(str(error).split())[:200] or type(error).__name__
        raise ScanError(f"cannot be read ({type(error).__name__}: {reason})", path) from error


def _pick(found: list[DicomSeries], series_uid: str | None, path: Path) -> DicomSeries:
    if series_uid is None:
        return found[0]
    for series in found:
        if series.uid == series_uid:
            return series
    listed = ", ".join(series.uid for series in found)
    raise ScanError(f"no series {series_uid} here; found: {listed}", path)


def _integer_labels(array: np.ndarray, path: Path) -> np.ndarray:
    if np.issubdtype(array.dtype, np.integer):
        return array
    if not np.all(np.isfinite(array)) or not np.array_equal(array, np.round(array)):
        raise ScanError("a label map must hold whole numbers; this one holds fractions", path)
    return array.astype(np.int32)


def _named_present(labels: LabelTable, array: np.ndarray) -> LabelTable:
    """``labels`` plus a ``default_table`` class (``label N``) for each value present but unnamed."""
    missing = [int(value) for value in np.unique(array) if value > 0 and int(value) not in labels]
    if not missing:
        return labels
    named = {label.name for label in labels}
    defaults = [
        replace(label, name=f"{label.name} (unnamed)") if label.name in named else label
        for label in default_table(missing)
    ]
    return LabelTable([*labels, *defaults])


def _sidecar(path: Path) -> tuple[LabelTable, Provenance]:
    sidecar = label_table_path(path)
    if not sidecar.exists():
        return LabelTable(), Provenance("user")
    try:
        data = json.loads(sidecar.read_text(encoding="utf-8"))
        labels = LabelTable.from_dict(data["labels"]) if "labels" in data else LabelTable()
        return labels, Provenance.from_dict(data["provenance"])
    except (json.JSONDecodeError, KeyError, TypeError, ValueError) as error:
        raise ScanError(f"the label table sidecar cannot be read ({error})", sidecar) from error
