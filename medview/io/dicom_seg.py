"""DICOM SEG opened for what it means: a label map over the images it segments.

A SEG names the exact source images it segments (ReferencedSeriesSequence, and each frame's
SourceImageSequence), so its frames are placed on a scan's grid by those SOP instances (and frame
numbers, for a multi-frame source), never by guessing from positions. When those images are not
in the folder, the SEG is shown alone on its own geometry (plane positions, orientation and pixel
measures). Segment numbers are the label values; names come from SegmentLabel and colours from
RecommendedDisplayCIELabValue. Binary, fractional (shown where the fraction is at least one half)
and label-map SEGs are read through highdicom.
"""

from __future__ import annotations

import warnings as python_warnings
from collections.abc import Callable, Sequence
from pathlib import Path

import highdicom as hd
import numpy as np
import pydicom
from pydicom.dataset import Dataset
from pydicom.errors import InvalidDicomError

from medview.core.geometry import Geometry
from medview.core.labels import LabelClass, LabelTable, default_colour
from medview.core.provenance import Provenance
from medview.core.scan import AttachedLabels, LabelMap, Scan, Window
from medview.io.dicom_calibration import pixel_spacing
from medview.io.dicom_reader import read_series
from medview.io.dicom_series import DicomSeries, find_series, frame_order
from medview.io.errors import ScanError

SEGMENTATION_STORAGE = "1.2.840.10008.5.1.4.1.1.66.4"
LABEL_MAP_SEGMENTATION_STORAGE = "1.2.840.10008.5.1.4.1.1.66.7"
SEG_SOP_CLASSES = frozenset({SEGMENTATION_STORAGE, LABEL_MAP_SEGMENTATION_STORAGE})
# A fractional segment covers the voxels where its fraction (probability, occupancy) is at least this.
FRACTION_SHOWN = 0.5
_READ_ERRORS = (InvalidDicomError, ValueError, AttributeError, KeyError, IndexError, TypeError, OSError)


def is_dicom_seg(path: str | Path) -> bool:
    """True when ``path`` is a DICOM file whose SOP class is a segmentation (SEG or label-map SEG)."""
    path = Path(path)
    if not path.is_file():
        return False
    try:
        header = pydicom.dcmread(path, stop_before_pixels=True, specific_tags=["SOPClassUID"])
    except (InvalidDicomError, OSError, ValueError, EOFError):
        return False
    return str(header.get("SOPClassUID", "")) in SEG_SOP_CLASSES


def is_seg_series(series: DicomSeries) -> bool:
    """True when a series found on disk holds segmentations, not images."""
    return str(series.first.get("SOPClassUID", "")) in SEG_SOP_CLASSES


def open_seg(path: str | Path, found: Sequence[DicomSeries] | None = None) -> Scan:
    """The scan a SEG segments, with the segmentation in ``scan.attached``.

    The referenced series is looked for in ``found`` (the series of the folder the user opened),
    or else among the DICOM files of the SEG's folder, searched recursively. When it is not there
    the SEG opens alone: a uint8 zeros image of modality ``SEG`` on the SEG's own geometry, with
    the segmentation attached and a warning saying so.

    Raises:
        ScanError: the file is not a readable SEG, or its frames do not fit the referenced images.
    """
    path = Path(path)
    seg = read_seg(path)
    notes: list[str] = []
    if found is None:
        found = _series_beside(path, notes)
    target = _referenced_series(seg, found)
    if target is None:
        scan = _seg_alone(seg, path)
        series_uids = ", ".join(sorted(_references(seg)[0])) or "not named"
        scan.warnings.append(
            f"the referenced images (series {series_uids}) are not in this folder: "
            "the segmentation is shown alone"
        )
        scan.warnings.extend(notes)
        return scan
    scan = read_series(target)
    label_map = seg_label_map(seg, target.headers, scan, path, scan.warnings)
    scan.attached.append(AttachedLabels(seg_layer_name(seg, path), label_map))
    return scan


def attach_segs(scan: Scan, series: DicomSeries, found: Sequence[DicomSeries]) -> None:
    """Attach to ``scan`` (read from ``series``) every SEG in ``found`` that segments it.

    A SEG that cannot be read does not stop the scan from opening: it becomes a warning.
    """
    for candidate in found:
        if not is_seg_series(candidate):
            continue
        for header, path in zip(candidate.headers, candidate.paths, strict=True):
            if _referenced_series(header, [series]) is None:
                continue
            try:
                seg = read_seg(path)
                label_map = seg_label_map(seg, series.headers, scan, path, scan.warnings)
            except ScanError as error:
                scan.warnings.append(f"the segmentation {path.name} cannot be shown: {error}")
                continue
            scan.attached.append(AttachedLabels(seg_layer_name(seg, path), label_map))


def read_seg_over(path: str | Path, scan: Scan, warnings: list[str] | None = None) -> LabelMap:
    """A SEG as a label map on the grid of ``scan``, a DICOM series that is already open.

    Problems that do not block showing it (overlapping segments) are appended to ``warnings``.

    Raises:
        ScanError: the file is not a SEG, it segments another series than
            ``scan.metadata["series_uid"]``, or the scan's files can no longer be found.
    """
    path = Path(path)
    seg = read_seg(path)
    series_uid = str(scan.metadata.get("series_uid", ""))
    referenced = _references(seg)[0]
    if not series_uid or series_uid.split("/")[0] not in referenced:
        named = ", ".join(sorted(referenced)) or "not named"
        raise ScanError(
            f"this segmentation is of series {named}, not of the open scan's series "
            f"{series_uid or '(not DICOM)'}; open the series it belongs to",
            path,
        )
    if not scan.source:
        raise ScanError("the open scan's DICOM files are not known", path)
    series = next((s for s in find_series(scan.source) if s.uid == series_uid), None)
    if series is None:
        raise ScanError(f"the files of series {series_uid} are no longer in {scan.source}", path)
    return seg_label_map(seg, series.headers, scan, path, [] if warnings is None else warnings)


def segments_open_scan(path: str | Path, scan: Scan | None) -> bool:
    """True when ``path`` is a SEG of the series ``scan`` shows, so it can be laid over it."""
    series_uid = str(scan.metadata.get("series_uid", "")).split("/")[0] if scan is not None else ""
    if not series_uid or not is_dicom_seg(path):
        return False
    try:
        header = pydicom.dcmread(path, stop_before_pixels=True)
    except (InvalidDicomError, OSError, ValueError, EOFError):
        return False
    return series_uid in _references(header)[0]


def read_seg(path: str | Path) -> hd.seg.Segmentation:
    """Parse a SEG file with highdicom.

    Raises:
        ScanError: the file is not a DICOM SEG, or highdicom cannot read it.
    """
    path = Path(path)
    try:
        with python_warnings.catch_warnings():
            python_warnings.simplefilter("ignore")  # highdicom's notes on optional attributes
            return hd.seg.segread(path)
    except _READ_ERRORS as error:
        raise ScanError(f"not a readable DICOM SEG ({_reason(error)})", path) from error


def seg_label_map(
    seg: hd.seg.Segmentation,
    sources: Sequence[Dataset],
    scan: Scan,
    path: str | Path,
    warnings: list[str],
) -> LabelMap:
    """The SEG's segments as one label map on ``scan``'s grid.

    ``sources`` are the headers of the scan's images in array order along axis 0 (one per slice),
    or the single header of a multi-frame image, whose frames are then taken in the order they
    lie along the slice normal. A voxel in several segments gets the later (higher-numbered)
    segment, and ``warnings`` says how many voxels that concerns.

    Raises:
        ScanError: the scan has a time axis, or the SEG's frames do not fit its images.
    """
    path = Path(path)
    if scan.has_time_axis:
        raise ScanError("a segmentation of images with a time axis cannot be shown", path)
    shape = scan.spatial_shape
    fetch = _source_fetcher(seg, sources)
    array = _combine(seg, lambda number: _fit(fetch(number), shape, path), shape, path, warnings)
    return LabelMap(array, scan.geometry, segment_table(seg), Provenance("import", derived_from=str(path)))


def segment_table(seg: Dataset) -> LabelTable:
    """Segment number -> SegmentLabel and RGB colour (from CIELab); duplicate names get a number.

    A label-map SEG's background segment (number 0) is the label map's 0, not a class."""
    classes, names = [], set()
    for item in seg.SegmentSequence:
        number = int(item.SegmentNumber)
        if number == 0:  # the background segment of a label-map SEG
            continue
        name = str(item.get("SegmentLabel", "") or f"segment {number}")
        if name in names:
            name = f"{name} ({number})"
        names.add(name)
        category = _coded(item, "SegmentedPropertyCategoryCodeSequence")
        kind = _coded(item, "SegmentedPropertyTypeCodeSequence")
        classes.append(LabelClass(number, name, _colour(item, number), category, kind))
    return LabelTable(classes)


def _coded(item: Dataset, keyword: str) -> tuple[str, str, str] | None:
    """The first code of ``keyword``'s sequence as (value, scheme, meaning), kept for export."""
    try:
        code = item.get(keyword)[0]
        return (str(code.CodeValue), str(code.CodingSchemeDesignator), str(code.CodeMeaning))
    except (TypeError, IndexError, AttributeError):
        return None


def seg_layer_name(seg: Dataset, path: str | Path) -> str:
    """What the SEG's layer is called: its series description, content label or file name."""
    described = str(seg.get("SeriesDescription", "") or seg.get("ContentLabel", "") or Path(path).stem)
    return f"SEG {described}"


def _series_beside(path: Path, notes: list[str]) -> list[DicomSeries]:
    try:
        return find_series(path.parent)
    except ScanError as error:
        notes.append(f"the other DICOM files in this folder cannot be read: {error}")
        return []


def _references(seg: Dataset) -> tuple[set[str], set[str]]:
    """The series and SOP instance UIDs a SEG (header or highdicom object) segments."""
    series, instances = set(), set()
    for item in seg.get("ReferencedSeriesSequence", ()):
        series.add(str(item.get("SeriesInstanceUID", "")))
        references = item.get("ReferencedInstanceSequence", ())
        instances.update(str(ref.get("ReferencedSOPInstanceUID", "")) for ref in references)
    for frame in seg.get("PerFrameFunctionalGroupsSequence", ()):
        for derivation in frame.get("DerivationImageSequence", ()):
            instances.update(
                str(ref.get("ReferencedSOPInstanceUID", ""))
                for ref in derivation.get("SourceImageSequence", ())
            )
    instances.update(
        str(ref.get("ReferencedSOPInstanceUID", "")) for ref in seg.get("SourceImageSequence", ())
    )
    series.discard("")
    instances.discard("")
    return series, instances


def _referenced_series(seg: Dataset, found: Sequence[DicomSeries]) -> DicomSeries | None:
    """The image series holding most of the SEG's source instances, or ``None``."""
    series_uids, instances = _references(seg)
    best, best_count = None, 0
    for series in found:
        if is_seg_series(series):
            continue
        count = sum(str(header.get("SOPInstanceUID", "")) in instances for header in series.headers)
        if count == 0 and not instances and series.uid.split("/")[0] in series_uids:
            count = 1
        if count > best_count:
            best, best_count = series, count
    return best


def _source_fetcher(seg: hd.seg.Segmentation, sources: Sequence[Dataset]) -> Callable[[int], np.ndarray]:
    """A function giving one segment's pixels, ``(frames, rows, columns)``, frames in array order."""
    dtype = np.float32 if _is_fractional(seg) else np.uint8
    options = {"assert_missing_frames_are_empty": True, "dtype": dtype}
    if len(sources) == 1 and int(sources[0].get("NumberOfFrames", 1) or 1) > 1:
        source = sources[0]
        frames = [index + 1 for index in frame_order(source)]
        return lambda number: seg.get_pixels_by_source_frame(
            str(source.SOPInstanceUID), frames, segment_numbers=[number], **options
        )[..., 0]
    uids = [str(header.SOPInstanceUID) for header in sources]
    return lambda number: seg.get_pixels_by_source_instance(uids, segment_numbers=[number], **options)[..., 0]


def _combine(
    seg: Dataset,
    segment_pixels: Callable[[int], np.ndarray],
    shape: tuple[int, ...],
    path: Path,
    warnings: list[str],
) -> np.ndarray:
    table = segment_table(seg)
    numbers = table.values
    array = np.zeros(shape, dtype=np.uint8 if max(numbers, default=0) < 256 else np.uint16)
    overlapping, pairs = 0, set()
    for number in numbers:
        try:
            pixels = segment_pixels(number)
        except (ValueError, RuntimeError, KeyError, IndexError, AttributeError) as error:
            raise ScanError(f"the segmentation's frames cannot be placed ({_reason(error)})", path) from error
        mask = pixels >= FRACTION_SHOWN if pixels.dtype.kind == "f" else pixels > 0
        under = array[mask]
        covered = under[under > 0]
        if covered.size:
            overlapping += int(covered.size)
            pairs.update((int(value), number) for value in np.unique(covered))
        array[mask] = number
    if overlapping:
        first, later = min(pairs)
        warnings.append(
            f"segments of {path.name} overlap in {overlapping} voxels (e.g. {table.name_of(first)!r} "
            f"and {table.name_of(later)!r}): each such voxel shows the later segment"
        )
    return array


def _fit(pixels: np.ndarray, shape: tuple[int, ...], path: Path) -> np.ndarray:
    if pixels.size != int(np.prod(shape)):
        raise ScanError(
            f"the segmentation's frames ({pixels.shape[0]} of {pixels.shape[1]}x{pixels.shape[2]}) "
            f"do not fit the images' grid {shape}",
            path,
        )
    return pixels.reshape(shape)


def _seg_alone(seg: hd.seg.Segmentation, path: Path) -> Scan:
    """The SEG on its own geometry: a zeros image with the segmentation attached."""
    try:
        geometry, shape, fetch = _own_volume(seg)
    except (ValueError, RuntimeError, KeyError, IndexError, AttributeError, TypeError) as error:
        # highdicom raises TypeError too on damaged geometry values (text where numbers belong)
        geometry, shape, fetch = _own_plane(seg, path, error)
    warnings: list[str] = []
    array = _combine(seg, lambda number: fetch(number).reshape(shape), shape, path, warnings)
    label_map = LabelMap(array, geometry, segment_table(seg), Provenance("import", derived_from=str(path)))
    return Scan(
        array=np.zeros(shape, dtype=np.uint8),
        geometry=geometry,
        modality="SEG",
        name=seg_layer_name(seg, path),
        window=Window(0.5, 1.0, "segmentation only"),
        units="mm" if pixel_spacing(seg)[0] is not None else "pixel",
        source=str(path),
        metadata={
            "series_uid": str(seg.get("SeriesInstanceUID", "")),
            "series_description": str(seg.get("SeriesDescription", "")),
            "files": 1,
        },
        warnings=warnings,
        attached=[AttachedLabels(seg_layer_name(seg, path), label_map)],
    )


_Fetch = Callable[[int], np.ndarray]


def _own_volume(seg: hd.seg.Segmentation) -> tuple[Geometry, tuple[int, ...], _Fetch]:
    """The SEG's frames as a volume (highdicom), slices ascending along the normal, in medview's axes."""
    dtype = np.float32 if _is_fractional(seg) else np.uint8
    first = segment_table(seg).values[0]  # not a label-map SEG's background segment 0
    probe = seg.get_volume(segment_numbers=[first], dtype=dtype)
    affine = np.array(probe.affine, dtype=np.float64)  # index (slice, row, column) -> LPS (x, y, z)
    step, down, across = affine[:3, 0], affine[:3, 1], affine[:3, 2]
    slices = int(probe.spatial_shape[0])
    flip = slices > 1 and float(np.dot(step, np.cross(across, down))) < 0  # against the normal
    if flip:
        affine[:3, 3] += (slices - 1) * step
        affine[:3, 0] = -step
    reorder = np.eye(4)[[2, 1, 0, 3]]  # medview lists LPS reversed: (S, P, L)

    def fetch(number: int) -> np.ndarray:
        pixels = seg.get_volume(segment_numbers=[number], dtype=dtype).array[..., 0]
        return pixels[::-1] if flip else pixels

    return Geometry(reorder @ affine), tuple(int(s) for s in probe.spatial_shape), fetch


def _own_plane(
    seg: hd.seg.Segmentation, path: Path, reason: Exception
) -> tuple[Geometry, tuple[int, ...], _Fetch]:
    """A SEG of one 2D image without plane positions: its single frame per segment, in the plane."""
    instances = sorted({uid for _, _, uid in seg.get_source_image_uids()})
    if len(instances) != 1:
        raise ScanError(
            f"the segmentation's frames have no usable positions ({_reason(reason)}) and its "
            "images are not in this folder",
            path,
        )
    dtype = np.float32 if _is_fractional(seg) else np.uint8

    def fetch(number: int) -> np.ndarray:
        return seg.get_pixels_by_source_instance(instances, segment_numbers=[number], dtype=dtype)[0, ..., 0]

    geometry = Geometry.from_spacing(pixel_spacing(seg)[0] or (1.0, 1.0))
    return geometry, (int(seg.Rows), int(seg.Columns)), fetch


def _is_fractional(seg: Dataset) -> bool:
    return str(seg.get("SegmentationType", "")) == "FRACTIONAL"


def _colour(item: Dataset, number: int) -> tuple[int, int, int]:
    if "RecommendedDisplayCIELabValue" in item:
        try:
            rgb = hd.color.CIELabColor.from_dicom_value(item.RecommendedDisplayCIELabValue).to_rgb()
            return tuple(int(np.clip(round(float(c)), 0, 255)) for c in rgb)
        except (ValueError, TypeError):
            pass
    return default_colour(number)


def _reason(error: Exception) -> str:
    return " ".join(str(error).split())[:300] or type(error).__name__
