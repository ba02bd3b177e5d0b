"""Find DICOM series in a file or folder, group their files and sort slices in space.

Files are grouped by SeriesInstanceUID and, inside a series, by image orientation (a localizer stored
in the same series as its axial slices becomes its own entry). Slices are sorted by their position
along the slice normal, never by file name or InstanceNumber, and the slice spacing is the distance
between positions, never SliceThickness.
"""

from __future__ import annotations

import os
import struct
from collections.abc import Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pydicom
from pydicom.dataset import Dataset
from pydicom.uid import UID

from medview.core.geometry import Geometry
from medview.io.dicom_calibration import pixel_spacing
from medview.io.errors import ScanError

_PIXEL_DATA_TAG = 0x7FE00010
_PIXEL_TAGS = {_PIXEL_DATA_TAG, 0x7FE00008, 0x7FE00009}  # PixelData, FloatPixelData, DoubleFloatPixelData
_UNDEFINED_LENGTH = 0xFFFFFFFF
# Positions closer than this along the normal are the same position (mm).
_SAME_POSITION_MM = 1e-3
# Relative spread of slice distances tolerated before the spacing counts as irregular.
_SPACING_TOLERANCE = 0.01


@dataclass(frozen=True)
class SeriesInfo:
    """One series found on disk, as listed to the user.

    Attributes:
        uid: the SeriesInstanceUID, with ``/2``, ``/3``... appended when the series holds several
            orientations (each becomes its own entry).
        description: SeriesDescription.
        modality: DICOM modality code.
        shape: array shape the series opens with (array order, trailing channel for RGB).
    """

    uid: str
    description: str
    modality: str
    shape: tuple[int, ...]


@dataclass(frozen=True)
class PixelSpan:
    """Where a file's pixel data lies: its tag, the byte offset of its value and its length
    (``None`` when encapsulated, i.e. compressed)."""

    tag: int
    offset: int
    length: int | None


_Item = tuple[Path, Dataset, PixelSpan | None]
_POSITION, _ORIENTATION = 0x00200032, 0x00200037  # ImagePositionPatient, ImageOrientationPatient


@dataclass
class DicomSeries:
    """The headers of one series' files, sorted in space, ready for pixel reading."""

    uid: str
    headers: list[Dataset]
    paths: list[Path]
    spans: list[PixelSpan]
    warnings: list[str] = field(default_factory=list)

    @property
    def first(self) -> Dataset:
        return self.headers[0]

    @property
    def frames_per_file(self) -> int:
        return int(self.first.get("NumberOfFrames", 1) or 1)

    @property
    def is_volume(self) -> bool:
        """True when slices carry a position and orientation (CT/MR/PET...), false for 2D images."""
        if self.frames_per_file > 1:
            return frame_positions(self.first) is not None
        return "ImageOrientationPatient" in self.first and "ImagePositionPatient" in self.first

    @property
    def rgb(self) -> bool:
        return int(self.first.get("SamplesPerPixel", 1)) == 3 or _is_palette(self.first)

    def info(self) -> SeriesInfo:
        rows, columns = int(self.first.Rows), int(self.first.Columns)
        count = len(self.headers) * self.frames_per_file
        shape = (rows, columns) if count == 1 and not self.is_volume else (count, rows, columns)
        return SeriesInfo(
            uid=self.uid,
            description=str(self.first.get("SeriesDescription", "")),
            modality=str(self.first.get("Modality", "OT")),
            shape=shape + ((3,) if self.rgb else ()),
        )


def is_dicom_file(path: Path) -> bool:
    """True when the file carries the DICOM preamble and ``DICM`` magic."""
    try:
        with open(path, "rb") as handle:
            handle.seek(128)
            return handle.read(4) == b"DICM"
    except OSError:
        return False


def find_series(path: str | Path) -> list[DicomSeries]:
    """Every image series in a DICOM file or folder (searched recursively), largest first.

    Raises:
        ScanError: no DICOM image in the folder, a file that is not DICOM, a slice whose size
            differs from the rest of its series, or two slices at the same position.
    """
    path = Path(path)
    folder = path.is_dir()
    headers = [item for item in _read_headers(list(_walk(path)) if folder else [path], folder) if item]
    if folder and not headers:
        raise ScanError("no DICOM files found in this folder", path)
    images = [item for item in headers if item[2] is not None]
    if not images:
        raise ScanError("the DICOM file(s) hold no image (no pixel data)", path)
    from medview.io.pixel_checks import check_image_headers  # it builds on this module

    check_image_headers([(file, header) for file, header, _ in images])
    series = [_sort(uid, group) for uid, group in _group(images).items()]
    return sorted(series, key=lambda s: -len(s.headers))


def series_geometry(series: DicomSeries) -> Geometry:
    """The 3D geometry of a sorted, single-frame-per-file volume series (array order, LPS mm)."""
    first = series.first
    row, column, normal = _axes(first)
    row_spacing, column_spacing = pixel_spacing(first)[0] or (1.0, 1.0)
    positions = [decimals(h, _POSITION) for h in series.headers]
    slice_spacing = _slice_spacing(series, positions, normal)
    return _volume_geometry(positions[0], row, column, normal, (slice_spacing, row_spacing, column_spacing))


def volume_geometry(
    origin_lps: np.ndarray, orientation: Sequence[float], spacing_zyx: Sequence[float]
) -> Geometry:
    """Geometry from an LPS origin, an ImageOrientationPatient and (slice, row, column) spacing."""
    row, column, normal = _axes_from_orientation(orientation)
    return _volume_geometry(origin_lps, row, column, normal, spacing_zyx)


def sort_positions(positions: Sequence[np.ndarray], orientation: Sequence[float]) -> np.ndarray:
    """Indices that sort positions along the slice normal of ``orientation``, ascending."""
    _, _, normal = _axes_from_orientation(orientation)
    return np.argsort([float(np.dot(p, normal)) for p in positions], kind="stable")


def decimals(header: Dataset, tag: int) -> np.ndarray:
    """A decimal-string (DS) element as floats, parsed straight from its bytes when still raw.

    pydicom's DS conversion validates each value and dominates the time to sort a large series.
    """
    element = header.get_item(tag)
    if element is None:
        return np.empty(0)
    value = element.value
    if isinstance(value, bytes):
        value = value.strip(b" \x00")
        return np.array([float(v) for v in value.split(b"\\")], dtype=np.float64) if value else np.empty(0)
    return np.atleast_1d(np.asarray(value, dtype=np.float64))


def slice_normal(orientation: Sequence[float]) -> np.ndarray:
    """Unit normal (LPS) of the image plane given by an ImageOrientationPatient."""
    return _axes_from_orientation(orientation)[2]


def regular_spacing(distances: np.ndarray, source: Path, warnings: list[str], what: str = "slice") -> float:
    """The slice spacing from sorted distances along the normal; warns about gaps, refuses duplicates."""
    steps = np.diff(distances)
    if steps.size and steps.min() < _SAME_POSITION_MM:
        index = int(np.argmin(steps))
        raise ScanError(
            f"two {what}s (sorted {index + 1} and {index + 2}) lie at the same position "
            f"{distances[index]:.3f} mm along the normal; a series must have one {what} per position",
            source,
        )
    if not steps.size:
        return 0.0
    spacing = float(np.median(steps))
    if steps.max() - steps.min() > _SPACING_TOLERANCE * spacing:
        warnings.append(
            f"irregular {what} spacing ({steps.min():.3g} to {steps.max():.3g} mm, a {what} may be missing): "
            f"shown with {spacing:.3g} mm, positions beyond the gap are not exact"
        )
    return spacing


def _walk(folder: Path) -> Iterator[Path]:
    for root, _dirs, names in os.walk(folder):
        for name in sorted(names):
            yield Path(root) / name


def _read_headers(files: list[Path], skip_other_files: bool) -> list[_Item | None]:
    """Parse each header up to the pixel data, and note where the pixel data lies.

    Files without the DICOM preamble are skipped (``None``) when ``skip_other_files``, else refused;
    an empty ``.dcm`` file is always refused (a broken copy, not a stray file).
    """

    def read(path: Path) -> _Item | None:
        if path.stat().st_size == 0:
            if skip_other_files and path.suffix.lower() != ".dcm":
                return None
            raise ScanError("the file is empty (0 bytes)", path)
        try:
            with open(path, "rb") as handle:
                handle.seek(128)
                if handle.read(4) != b"DICM":
                    if skip_other_files:
                        return None
                    raise ScanError("not a DICOM file: it has no DICOM header ('DICM' preamble)", path)
                handle.seek(0)
                header = pydicom.dcmread(handle, stop_before_pixels=True)
                return path, header, _pixel_span(handle, header)
        except (OSError, ValueError, EOFError, KeyError, struct.error) as error:
            raise ScanError(f"the DICOM header cannot be read ({error})", path) from error

    if len(files) < 2:
        return [read(path) for path in files]
    with ThreadPoolExecutor(max_workers=4) as pool:
        return list(pool.map(read, files))


def _pixel_span(handle, header: Dataset) -> PixelSpan | None:
    """Parsing stopped at the pixel data element (if any): read its tag and length where it starts."""
    start = handle.tell()
    syntax = header.file_meta.get("TransferSyntaxUID")
    if syntax is not None and not isinstance(syntax, UID):
        raise ScanError(
            f"the TransferSyntaxUID {syntax!r} is not a UID; the file is corrupt", header.filename
        )
    if syntax is not None and syntax.is_deflated:
        # The whole data set is one deflate stream: where its pixel data lies is unknown until it is
        # inflated, so a file with an image SOP class is taken to hold one and decoded by pydicom.
        has_image = "Rows" in header and "Columns" in header
        return PixelSpan(_PIXEL_DATA_TAG, 0, None) if has_image else None
    little = syntax is None or syntax.is_little_endian
    implicit = syntax is not None and syntax.is_implicit_VR
    element = handle.read(8 if implicit else 12)
    if len(element) < 8:
        return None
    order = "<" if little else ">"
    group, number = struct.unpack(f"{order}HH", element[:4])
    tag = group << 16 | number
    if tag not in _PIXEL_TAGS:
        return None
    if implicit:
        length, size = struct.unpack("<I", element[4:8])[0], 8
    elif element[4:6] in (b"OB", b"OW", b"OF", b"OD", b"OL", b"OV", b"UN"):
        length, size = struct.unpack(f"{order}I", element[8:12])[0], 12
    else:
        length, size = struct.unpack(f"{order}H", element[6:8])[0], 8
    return PixelSpan(tag, start + size, None if length == _UNDEFINED_LENGTH else length)


def _is_palette(header: Dataset) -> bool:
    return str(header.get("PhotometricInterpretation", "")) == "PALETTE COLOR"


def _group(images: list[_Item]) -> dict[str, list[_Item]]:
    by_series: dict[str, dict[tuple, list[_Item]]] = {}
    for path, header, span in images:
        uid = str(header.get("SeriesInstanceUID", "")) or f"file:{path}"
        orientation = tuple(np.round(decimals(header, _ORIENTATION), 3))
        by_series.setdefault(uid, {}).setdefault(orientation, []).append((path, header, span))
    groups = {}
    for uid, orientations in by_series.items():
        ordered = sorted(orientations.values(), key=len, reverse=True)
        for number, group in enumerate(ordered, start=1):
            groups[uid if number == 1 else f"{uid}/{number}"] = group
    return groups


def _sort(uid: str, group: list[_Item]) -> DicomSeries:
    first_path, first, _ = group[0]
    size = (int(first.get("Rows", 0)), int(first.get("Columns", 0)))
    for path, header, _ in group[1:]:
        other = (int(header.get("Rows", 0)), int(header.get("Columns", 0)))
        if other != size:
            raise ScanError(
                f"this slice is {other[0]}x{other[1]} pixels but the rest of series {uid} "
                f"({first_path.name}, ...) is {size[0]}x{size[1]}",
                path,
            )
    has_position = all("ImagePositionPatient" in h and "ImageOrientationPatient" in h for _, h, _ in group)
    if len(group) > 1 and has_position:
        order = sort_positions([decimals(h, _POSITION) for _, h, _ in group], decimals(first, _ORIENTATION))
        group = [group[i] for i in order]
    elif len(group) > 1:
        group = sorted(group, key=lambda item: int(item[1].get("InstanceNumber", 0) or 0))
    return DicomSeries(uid, [h for _, h, _ in group], [p for p, _, _ in group], [s for _, _, s in group])


def _slice_spacing(series: DicomSeries, positions: list[np.ndarray], normal: np.ndarray) -> float:
    if len(positions) == 1:
        first = series.first
        return float(first.get("SpacingBetweenSlices") or first.get("SliceThickness") or 1.0)
    distances = np.array([float(np.dot(p, normal)) for p in positions])
    spacing = regular_spacing(distances, series.paths[0].parent, series.warnings)
    step = positions[-1] - positions[0]
    sideways = float(np.linalg.norm(step - np.dot(step, normal) * normal))
    if sideways > 0.01 * abs(float(np.dot(step, normal))) + 1e-3:  # more than about half a degree
        series.warnings.append(
            "slice positions are not along the slice normal (gantry tilt?): the volume is shown unsheared"
        )
    return spacing


def _axes(header: Dataset) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    return _axes_from_orientation(header.ImageOrientationPatient)


def _axes_from_orientation(orientation: Sequence[float]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Row, column and normal unit vectors; ``ValueError`` unless the values are two finite,
    non-parallel directions (``open_scan`` reports it as a ScanError naming the file)."""
    values = np.asarray([float(v) for v in orientation], dtype=np.float64)
    if values.shape != (6,) or not np.all(np.isfinite(values)):
        raise ValueError(f"ImageOrientationPatient {list(values)} is not two directions of 3 values each")
    row, column = values[:3], values[3:]
    normal = np.cross(row, column)
    if min(np.linalg.norm(row), np.linalg.norm(column)) < 1e-6 or np.linalg.norm(normal) < 1e-6:
        raise ValueError(f"ImageOrientationPatient {list(values)} is not two non-parallel directions")
    row, column = row / np.linalg.norm(row), column / np.linalg.norm(column)
    normal = np.cross(row, column)
    return row, column, normal / np.linalg.norm(normal)


def _volume_geometry(
    origin_lps: np.ndarray,
    row: np.ndarray,
    column: np.ndarray,
    normal: np.ndarray,
    spacing_zyx: Sequence[float],
) -> Geometry:
    # ITK order: columns (x, y, z) are the row direction, column direction and normal, in LPS;
    # medview lists both axes and world coordinates reversed.
    itk_direction = np.column_stack([row, column, normal])
    return Geometry.from_spacing(spacing_zyx, np.asarray(origin_lps, float)[::-1], itk_direction[::-1, ::-1])


def frame_positions(header: Dataset) -> list[np.ndarray] | None:
    """ImagePositionPatient of every frame of a multi-frame volume, or ``None`` (cine, time frames).

    Enhanced images give one position per frame; RT dose grids give one position and the frames'
    offsets along the normal (GridFrameOffsetVector).
    """
    offsets = header.get("GridFrameOffsetVector")
    if offsets and "ImagePositionPatient" in header and "ImageOrientationPatient" in header:
        start = np.asarray(header.ImagePositionPatient, dtype=np.float64)
        normal = slice_normal(header.ImageOrientationPatient)
        return [start + float(offset) * normal for offset in offsets]
    try:
        return [
            np.asarray(frame.PlanePositionSequence[0].ImagePositionPatient, dtype=np.float64)
            for frame in header.PerFrameFunctionalGroupsSequence
        ]
    except (AttributeError, IndexError, KeyError):
        return None


def frame_order(header: Dataset) -> list[int]:
    """0-based frame indices of a multi-frame image in the order its volume is read: along the slice
    normal when the frames carry positions, else as stored (cine, time frames)."""
    frames = int(header.get("NumberOfFrames", 1) or 1)
    positions = frame_positions(header)
    orientation = header.get("ImageOrientationPatient")
    for groups in ("PerFrameFunctionalGroupsSequence", "SharedFunctionalGroupsSequence"):
        items = header.get(groups) or []
        if orientation is None and items and items[0].get("PlaneOrientationSequence"):
            orientation = items[0].PlaneOrientationSequence[0].ImageOrientationPatient
    if positions is None or orientation is None:
        return list(range(frames))
    return [int(index) for index in sort_positions(positions, orientation)]
