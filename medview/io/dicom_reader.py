"""Pixels of a sorted DICOM series: one preallocated array, rescaled, photometric applied.

Uncompressed little-endian slices are read straight from disk into their place in the volume (the
header parse recorded where the pixel data starts), from several threads, since ``readinto``
releases the GIL; compressed transfer syntaxes (JPEG, JPEG-LS, JPEG 2000, RLE) and multi-frame
images go through pydicom's decoders (the pylibjpeg plugins).
"""

from __future__ import annotations

import mmap
import struct
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import psutil
import pydicom
from pydicom.dataset import Dataset
from pydicom.pixels import apply_color_lut
from pydicom.uid import ExplicitVRLittleEndian, ImplicitVRLittleEndian

from medview.core.geometry import Geometry
from medview.core.scan import Scan
from medview.io.dicom_calibration import pixel_spacing, value_unit
from medview.io.dicom_compression import lossy_compression
from medview.io.dicom_overlays import overlay_labels
from medview.io.dicom_series import (
    DicomSeries,
    PixelSpan,
    decimals,
    frame_positions,
    regular_spacing,
    series_geometry,
    slice_normal,
    sort_positions,
    volume_geometry,
)
from medview.io.dicom_slide import is_slide_series, read_slide
from medview.io.errors import ScanError
from medview.io.pixel_checks import check_decoded_shape, check_series_memory, check_series_pixels

_PIXEL_DATA = 0x7FE00010
_INTERCEPT, _SLOPE = 0x00281052, 0x00281053
_RAW_SYNTAXES = {ExplicitVRLittleEndian, ImplicitVRLittleEndian}
_READ_THREADS = 4


def read_series(series: DicomSeries) -> Scan:
    """The scan of a sorted series: a volume, a 2D image, frames along a time axis, or a slide.

    What came with the pixels is kept: overlay planes become ``scan.attached`` label maps, and
    lossy compression is noted in ``scan.metadata["lossy_compression"]`` for the window to show.

    Raises:
        ScanError: pixel data missing, shorter than Rows x Columns, undecodable, or too large for
            the memory available.
    """
    check_series_pixels(series)
    if is_slide_series(series):
        scan = read_slide(series)
    else:
        scan = _read_pixels(series)
        scan.attached.extend(overlay_labels(series, scan))
    lossy = lossy_compression(series.headers)
    if lossy:
        scan.metadata["lossy_compression"] = lossy
    return scan


def _read_pixels(series: DicomSeries) -> Scan:
    check_series_memory(series)
    if series.frames_per_file > 1:
        if len(series.headers) > 1:
            raise ScanError(
                f"series {series.uid} holds {len(series.headers)} multi-frame files; open one file at a time",
                series.paths[0].parent,
            )
        return _read_multiframe(series)
    array = _read_slices(series)
    first = series.first
    if series.is_volume:
        geometry = series_geometry(series)
        has_time = False
    else:
        geometry = _planar_geometry(first)
        has_time = len(series.headers) > 1
    slopes, intercepts = _rescale_of(series.headers)
    array = _rescale(array, slopes, intercepts)  # per slice: before a single image loses its slice axis
    if not (series.is_volume or has_time):
        array = array[0]
    return _scan(series, array, geometry, has_time)


def _read_slices(series: DicomSeries) -> np.ndarray:
    first = series.first
    shape = (len(series.headers), int(first.Rows), int(first.Columns))
    if series.rgb:
        shape += (3,)
    raw = _is_raw(series)
    dtype = _stored_dtype(first) if raw else _decode(series.paths[0], first).dtype
    _check_memory(shape, dtype, series.paths[0])
    array = np.empty(shape, dtype=dtype)

    def read_one(index: int) -> None:
        if raw:
            _read_raw_into(array[index], series.paths[index], series.spans[index])
        else:
            _decode_into(array[index], series.paths[index], series.headers[index])

    with ThreadPoolExecutor(max_workers=min(_READ_THREADS, shape[0])) as pool:
        list(pool.map(read_one, range(shape[0])))
    stored = int(first.get("BitsStored", 0) or 0)
    if raw and 0 < stored < array.dtype.itemsize * 8:
        # Bits above BitsStored are not the image (old files keep overlays there); pydicom's decoders
        # drop them, and the bytes read straight from disk must lose them too.
        np.bitwise_and(array, array.dtype.type((1 << stored) - 1), out=array)
    return array


def _read_multiframe(series: DicomSeries) -> Scan:
    header, path = series.first, series.paths[0]
    frames = int(header.NumberOfFrames)
    shape = (frames, int(header.Rows), int(header.Columns)) + ((3,) if series.rgb else ())
    _check_memory(shape, np.float32, path)
    array = check_decoded_shape(_decode(path, header), shape, path)
    positions = frame_positions(header)
    slopes, intercepts = _frame_rescale(header, frames)
    if positions is None:
        return _scan(series, _rescale(array, slopes, intercepts), _planar_geometry(header), True)
    orientation = header.get("ImageOrientationPatient") or (
        _functional(header, 0, "PlaneOrientationSequence").get("ImageOrientationPatient")
    )
    if not orientation:
        raise ScanError("the multi-frame image gives frame positions but no ImageOrientationPatient", path)
    order = sort_positions(positions, orientation)
    positions = [positions[i] for i in order]
    normal = slice_normal(orientation)
    distances = np.array([float(np.dot(p, normal)) for p in positions])
    slice_spacing = regular_spacing(distances, path, series.warnings, what="frame")
    measures = header if "PixelSpacing" in header else _functional(header, 0, "PixelMeasuresSequence", False)
    measures = measures if measures is not None else header
    if frames == 1:
        slice_spacing = float(measures.get("SpacingBetweenSlices") or measures.get("SliceThickness") or 1.0)
    in_plane = pixel_spacing(header)[0] or (1.0, 1.0)
    geometry = volume_geometry(positions[0], orientation, (slice_spacing, *in_plane))
    array = _rescale(array[order], slopes[order], intercepts[order])
    return _scan(series, array, geometry, False)


def _scan(series: DicomSeries, array: np.ndarray, geometry: Geometry, has_time: bool) -> Scan:
    first = series.first
    photometric = str(first.get("PhotometricInterpretation", "MONOCHROME2"))
    windows = _dicom_windows(first)
    if photometric == "MONOCHROME1":
        # Mirror the values within their own range, so bright stays bright in a MONOCHROME2 display.
        total = array.min().item() + array.max().item()
        wide = np.float64 if array.dtype.kind == "f" else np.int64
        array = (total - array.astype(wide)).astype(array.dtype)
        windows = [(float(total) - center, width, name) for center, width, name in windows]
    description = str(first.get("SeriesDescription", ""))
    source = series.paths[0] if len(series.paths) == 1 else series.paths[0].parent
    spacing, notes = pixel_spacing(first)
    return Scan(
        array=array,
        geometry=geometry,
        modality=str(first.get("Modality", "OT")) or "OT",
        name=description or source.name,
        rgb=series.rgb,
        has_time_axis=has_time,
        units="mm" if spacing is not None else "pixel",
        value_unit="" if series.rgb else value_unit(first),
        source=str(source),
        metadata={
            "series_uid": series.uid,
            "series_description": description,
            "photometric": photometric,
            "dicom_windows": windows,
            "files": len(series.paths),
        },
        warnings=list(series.warnings) + notes,
    )


def _is_raw(series: DicomSeries) -> bool:
    """True when every slice is uncompressed little-endian greyscale that can be read as bytes."""
    first = series.first
    layout = (first.get("BitsAllocated"), first.get("PixelRepresentation"), first.file_meta.TransferSyntaxUID)
    return (
        int(first.get("SamplesPerPixel", 1)) == 1
        and int(first.get("BitsAllocated", 0)) in (8, 16, 32)
        and not (int(first.get("PixelRepresentation", 0)) == 1 and first.BitsStored != first.BitsAllocated)
        and str(first.get("PhotometricInterpretation", "")).startswith("MONOCHROME")
        and layout[2] in _RAW_SYNTAXES
        and all(span.tag == _PIXEL_DATA and span.length is not None for span in series.spans)
        and all(
            (h.get("BitsAllocated"), h.get("PixelRepresentation"), h.file_meta.TransferSyntaxUID) == layout
            for h in series.headers[1:]
        )
    )


def _stored_dtype(header: Dataset) -> np.dtype:
    kind = "i" if int(header.get("PixelRepresentation", 0)) == 1 else "u"
    return np.dtype(f"<{kind}{int(header.BitsAllocated) // 8}")


def _read_raw_into(out: np.ndarray, path: Path, span: PixelSpan) -> None:
    needed = out.nbytes
    if span.length < needed:
        raise ScanError(
            f"pixel data is {span.length} bytes but Rows x Columns ({out.shape[0]}x{out.shape[1]}) "
            f"needs {needed}",
            path,
        )
    with open(path, "rb", buffering=0) as handle:
        handle.seek(span.offset)
        got = handle.readinto(memoryview(out).cast("B"))
    if got != needed:
        raise ScanError(f"the file is truncated: pixel data stops after {got} of {needed} bytes", path)


def _decode_into(out: np.ndarray, path: Path, header: Dataset) -> None:
    pixels = _decode(path, header)
    if pixels.shape != out.shape:
        raise ScanError(f"decoded pixels have shape {pixels.shape}, expected {out.shape}", path)
    out[...] = pixels


def _decode(path: Path, header: Dataset) -> np.ndarray:
    try:
        # Parsed from a memory map: an element whose length field is damaged reads what the file
        # holds instead of allocating the gigabytes the length claims.
        with open(path, "rb") as handle, mmap.mmap(handle.fileno(), 0, access=mmap.ACCESS_READ) as mapped:
            dataset = pydicom.dcmread(mapped)
            pixels = dataset.pixel_array
        if str(dataset.get("PhotometricInterpretation", "")) == "PALETTE COLOR":
            pixels = (apply_color_lut(pixels, dataset) >> 8).astype(np.uint8)  # 16-bit LUT to 8-bit RGB
        if not pixels.dtype.isnative:
            pixels = pixels.astype(pixels.dtype.newbyteorder("="))
    except ScanError:
        raise
    except BaseException as error:
        if not isinstance(error, _DECODE_ERRORS) and not _is_decoder_panic(error):
            raise
        reason = " ".join(str(error).split())[:300] or type(error).__name__
        syntax = header.file_meta.get("TransferSyntaxUID")
        syntax_name = syntax.name if syntax else "unknown transfer syntax"
        raise ScanError(f"the pixel data cannot be decoded ({syntax_name}): {reason}", path) from error
    return pixels


# What pydicom and its decoders raise on damaged pixel data (pydicom's own BytesLengthException
# and struct errors come from damaged element lengths).
_DECODE_ERRORS = (
    ValueError,
    RuntimeError,
    AttributeError,
    NotImplementedError,
    OSError,
    EOFError,
    KeyError,
    IndexError,
    struct.error,
    pydicom.errors.BytesLengthException,
)


def _is_decoder_panic(error: BaseException) -> bool:
    """A Rust decoder (pylibjpeg-rle) that panics on damaged data raises pyo3's ``PanicException``,
    which derives from ``BaseException`` so that ``except Exception`` does not catch it."""
    return type(error).__name__ == "PanicException"


def _check_memory(shape: tuple[int, ...], dtype: np.dtype, path: Path) -> None:
    needed = int(np.prod(shape, dtype=np.float64) * np.dtype(dtype).itemsize)
    available = psutil.virtual_memory().available
    if needed > available:
        raise ScanError(
            f"the image needs {needed / 2**30:.1f} GiB but only {available / 2**30:.1f} GiB of memory "
            "is free",
            path,
        )


def _planar_geometry(header: Dataset) -> Geometry:
    """Rows and columns at the calibrated pixel size, or one unit per pixel when it is unknown."""
    spacing, _ = pixel_spacing(header)
    return Geometry.from_spacing(spacing or (1.0, 1.0))


def _rescale_of(headers: list[Dataset]) -> tuple[np.ndarray, np.ndarray]:
    slopes = np.array([_first_or(decimals(h, _SLOPE), 1.0) for h in headers])
    intercepts = np.array([_first_or(decimals(h, _INTERCEPT), 0.0) for h in headers])
    return np.where(slopes == 0, 1.0, slopes), intercepts


def _first_or(values: np.ndarray, default: float) -> float:
    return float(values[0]) if values.size else default


def _frame_rescale(header: Dataset, frames: int) -> tuple[np.ndarray, np.ndarray]:
    slopes, intercepts = np.ones(frames), np.zeros(frames)
    for index in range(frames):
        transform = _functional(header, index, "PixelValueTransformationSequence", required=False)
        source = transform if transform is not None else header
        slopes[index] = float(source.get("RescaleSlope", 1) or 1)
        intercepts[index] = float(source.get("RescaleIntercept", 0) or 0)
    return slopes, intercepts


def _functional(header: Dataset, frame: int, name: str, required: bool = True) -> Dataset | None:
    """An item of an enhanced multi-frame functional group: per-frame when present, else shared."""
    for groups in ("PerFrameFunctionalGroupsSequence", "SharedFunctionalGroupsSequence"):
        items = header.get(groups)
        if not items:
            continue
        item = items[frame if groups.startswith("PerFrame") else 0]
        if name in item and item[name].value:
            return item[name].value[0]
    if required:
        raise ScanError(f"the multi-frame image lacks {name}", header.filename)
    return None


def _rescale(array: np.ndarray, slopes: np.ndarray, intercepts: np.ndarray) -> np.ndarray:
    """Modality values: ``stored * slope + intercept``, per slice, in the smallest exact dtype.

    Integer slope and intercept keep integers (int16 when the values fit, else int32), in place when
    the dtype does not change; anything else gives float32. Work is split by slice across threads.
    """
    if np.all(slopes == 1) and np.all(intercepts == 0):
        return array
    integral = bool(np.all(slopes == np.round(slopes)) and np.all(intercepts == np.round(intercepts)))
    dtype = np.dtype(np.float32)
    if integral and array.dtype.kind in "iu":
        ranges = np.array(
            _per_slice(len(array), lambda i: (array[i].min(), array[i].max())), dtype=np.float64
        )
        values = ranges * slopes[:, None] + intercepts[:, None]
        for candidate in (np.int16, np.int32):
            if np.iinfo(candidate).min <= values.min() and values.max() <= np.iinfo(candidate).max:
                dtype = np.dtype(candidate)
                break
    result = array if array.dtype == dtype else np.empty(array.shape, dtype)

    def apply(index: int) -> None:
        out = result[index]
        if result is not array:
            out[...] = array[index]
        if slopes[index] != 1:
            out *= dtype.type(slopes[index])
        if intercepts[index] != 0:
            out += dtype.type(intercepts[index])

    _per_slice(len(array), apply)
    return result


def _per_slice(count: int, function) -> list:
    """``function(i)`` for each slice index, on threads (numpy releases the GIL on whole slices)."""
    with ThreadPoolExecutor(max_workers=max(1, min(_READ_THREADS, count))) as pool:
        return list(pool.map(function, range(count)))


def _dicom_windows(header: Dataset) -> list[tuple[float, float, str]]:
    centers, widths = header.get("WindowCenter"), header.get("WindowWidth")
    if centers is None or widths is None:
        return []
    centers = list(centers) if isinstance(centers, pydicom.multival.MultiValue) else [centers]
    widths = list(widths) if isinstance(widths, pydicom.multival.MultiValue) else [widths]
    names = header.get("WindowCenterWidthExplanation") or []
    names = list(names) if isinstance(names, pydicom.multival.MultiValue) else [names]
    windows = []
    for index, (center, width) in enumerate(zip(centers, widths, strict=False)):
        if float(width) > 0:
            name = str(names[index]) if index < len(names) and names[index] else f"DICOM {index + 1}"
            windows.append((float(center), float(width), name))
    return windows
