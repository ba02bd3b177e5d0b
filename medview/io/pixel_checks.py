"""Checks that a file's pixel data is what its header says, made before any of it is decoded.

A damaged file is refused with a ``ScanError`` naming both sizes, never shown as striped garbage:
the DICOM header's Rows x Columns x frames x samples x bytes must match the pixel data (one padding
byte allowed) and compressed pixel data must hold all its fragments; a TIFF must list one tile or
strip per tile its size calls for, inside the file; and an image whose decoded size would not fit
in memory is refused before anything is allocated.
"""

from __future__ import annotations

import math
import struct
import zlib
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import psutil
import tifffile
from pydicom import uid
from pydicom.dataset import Dataset
from pydicom.errors import BytesLengthException
from pydicom.uid import UID

from medview.io.dicom_series import DicomSeries
from medview.io.errors import ScanError

try:
    import resource
except ImportError:  # Windows: no address-space limits
    resource = None

_ITEM, _SEQUENCE_END = 0xFFFEE000, 0xFFFEE0DD
_BITS_ALLOCATED = (1, 8, 16, 32, 64)
# Transfer syntaxes whose codestreams end with the marker FFD9 (EOI, or EOC for JPEG 2000).
_JPEG_SYNTAXES = {
    uid.JPEGBaseline8Bit,
    uid.JPEGExtended12Bit,
    uid.JPEGLossless,
    uid.JPEGLosslessSV1,
    uid.JPEGLSLossless,
    uid.JPEGLSNearLossless,
    uid.JPEG2000Lossless,
    uid.JPEG2000,
    uid.HTJ2KLossless,
    uid.HTJ2KLosslessRPCL,
    uid.HTJ2K,
}
# What tifffile (and the codecs under it) raise on a damaged TIFF: its parser divides, indexes and
# asserts on the header values it reads, so built-in error types come out of it too.
TIFF_ERRORS = (
    tifffile.TiffFileError,
    ValueError,
    TypeError,
    IndexError,
    KeyError,
    ZeroDivisionError,
    AssertionError,
    OverflowError,
    RuntimeError,
    NotImplementedError,
    struct.error,
    zlib.error,
    EOFError,
    OSError,
)
# Tiles decoded at once by the dask threads, each of which must fit in the memory left.
_TILES_IN_FLIGHT = 16


@dataclass(frozen=True)
class TiffLevel:
    """What a TIFF header says about one pyramid level: its shape and how its data is chunked."""

    shape: tuple[int, ...]
    dtype: np.dtype
    chunk_shape: tuple[int, ...]
    tiled: bool
    chunks: tuple[tuple[int, tuple[int, ...], tuple[int, ...]], ...]
    """Per page: the number of chunks (tiles or strips) its size calls for, their offsets, lengths."""
    contiguous: tuple[int, int] | None = None
    """Offset and length of the level's data when stored uncompressed in one piece."""


def tiff_levels(series: tifffile.TiffPageSeries) -> list[TiffLevel]:
    """The levels of a tifffile series as plain facts (may raise any of ``TIFF_ERRORS``)."""
    levels = []
    for level in series.levels:
        keyframe = level.keyframe
        pages = tuple(
            (math.prod(keyframe.chunked), tuple(page.dataoffsets), tuple(page.databytecounts))
            for page in level.pages
            if page is not None
        )
        nbytes = math.prod(level.shape) * np.dtype(level.dtype).itemsize
        contiguous = None if level.dataoffset is None else (int(level.dataoffset), nbytes)
        shape, chunk_shape = tuple(level.shape), tuple(keyframe.chunks)
        levels.append(
            TiffLevel(shape, np.dtype(level.dtype), chunk_shape, keyframe.is_tiled, pages, contiguous)
        )
    return levels


def check_tiff_levels(levels: list[TiffLevel], path: Path, whole: bool) -> None:
    """Refuse a TIFF whose header disagrees with itself or with the file, before decoding any of it.

    Every level must have a size, list one tile (or strip) per tile its size calls for, and keep
    them inside the file. ``whole``: the image is decoded whole, so it must fit in memory; otherwise
    (a slide read tile by tile) each tile must.
    """
    size = path.stat().st_size
    for number, level in enumerate(levels):
        if min(level.shape, default=0) < 1:
            raise ScanError(f"the TIFF header says level {number} has shape {level.shape}", path)
        if level.dtype.kind not in "biuf":
            raise ScanError(f"TIFF pixels of type {level.dtype} are not supported", path)
        kind = "tiles" if level.tiled else "strips"
        for expected, offsets, counts in level.chunks:
            if not len(offsets) == len(counts) == expected:
                raise ScanError(
                    f"the TIFF header says level {number} of shape {level.shape} has "
                    f"{expected} {kind} but lists {len(offsets)} offsets and {len(counts)} lengths",
                    path,
                )
            for offset, count in zip(offsets, counts, strict=True):
                if count > 0 and offset + count > size:
                    raise ScanError(
                        f"the image data is cut off: one of its {kind} lies at bytes {offset} to "
                        f"{offset + count} but the file ends at {size}",
                        path,
                    )
        if level.contiguous is not None and sum(level.contiguous) > size:
            offset, length = level.contiguous
            raise ScanError(
                f"the image data is cut off: it should be {length} bytes from byte {offset} but the file "
                f"ends at {size}",
                path,
            )
    itemsize = levels[0].dtype.itemsize
    if whole:
        check_memory(2 * math.prod(levels[0].shape) * itemsize, path)
    else:
        largest = max(math.prod(level.chunk_shape) for level in levels) * itemsize
        check_memory(_TILES_IN_FLIGHT * largest, path, what="reading it tile by tile")


def check_series_pixels(series: DicomSeries) -> None:
    """Refuse a series when any file's pixel data disagrees with its header; nothing is decoded.

    Uncompressed data must be exactly Rows x Columns x frames x samples x bytes long (plus one
    padding byte) and present in the file; compressed data must hold its fragments, at least one per
    frame, and end with its delimiter.
    """
    lengths: dict[tuple, int] = {}
    for header, path, span in zip(series.headers, series.paths, series.spans, strict=True):
        # find_series, the only maker of a DicomSeries, has run check_image_header on each header
        syntax = header.file_meta.TransferSyntaxUID
        if not isinstance(syntax, UID) or not syntax.is_transfer_syntax:
            raise ScanError(f"the transfer syntax {syntax} is not one medview can decode", path)
        if syntax.is_deflated:
            continue  # the whole data set is compressed: the pixel data's place in the file is unknown
        if not syntax.is_encapsulated:
            description = pixel_description(header)
            if description not in lengths:
                lengths[description] = native_length(header, path)
            check_native_length(header, span.length, span.offset, path, lengths[description])
            continue
        if span.length is not None and not _has_undefined_length(path, span.offset):
            raise ScanError(
                f"the pixel data is compressed ({syntax.name}) but not encapsulated in fragments; "
                "the file is corrupt",
                path,
            )
        frames, fragments = frame_count(header, path), check_fragments(path, span.offset)
        if len(fragments) < frames:
            raise ScanError(
                f"NumberOfFrames is {frames} but the compressed pixel data holds {len(fragments)} "
                f"fragment{'s' if len(fragments) != 1 else ''}: frames are missing",
                path,
            )
        if syntax in _JPEG_SYNTAXES:
            check_jpeg_ends(path, fragments, frames)


def check_series_memory(series: DicomSeries) -> None:
    """Refuse a series whose decoded pixels would not fit in memory, before decoding any.

    A multi-frame file is decoded whole and then sorted (two copies); single-frame files are read
    one at a time into the volume (one copy and one slice).
    """
    per_file = decoded_bytes(series.first, series.paths[0])
    total = per_file * len(series.headers)
    needed = 2 * total if frame_count(series.first, series.paths[0]) > 1 else total + per_file
    check_memory(needed, series.paths[0] if len(series.paths) == 1 else series.paths[0].parent)


def available_memory() -> int:
    """Bytes that can still be allocated: free memory, or less under an address-space limit."""
    available = psutil.virtual_memory().available
    if resource is not None:
        limit = resource.getrlimit(resource.RLIMIT_AS)[0]
        if limit != resource.RLIM_INFINITY:
            available = min(available, limit - psutil.Process().memory_info().vms)
    return max(int(available), 0)


def check_memory(needed: float, path: Path, what: str = "the image") -> None:
    """Refuse ``what`` when ``needed`` bytes would not fit in the memory left."""
    available = available_memory()
    if needed > available:
        raise ScanError(
            f"{what} needs {needed / 2**30:.1f} GiB but only {available / 2**30:.1f} GiB of memory is free; "
            "the header is wrong or the image too large",
            path,
        )


def frame_count(header: Dataset, path: Path) -> int:
    """NumberOfFrames as a whole number >= 1 (1 when absent)."""
    value = header.get("NumberOfFrames", 1)
    try:
        frames = int(value) if value not in (None, "") else 1
    except (TypeError, ValueError):
        raise ScanError(f"NumberOfFrames is {str(value)!r}, not a whole number", path) from None
    if frames < 1:
        raise ScanError(f"NumberOfFrames is {frames}; an image has at least one frame", path)
    return frames


# The elements check_image_header and native_length read: equal raw bytes give equal verdicts.
_PIXEL_DESCRIPTION = (
    0x00280002,  # SamplesPerPixel
    0x00280004,  # PhotometricInterpretation
    0x00280008,  # NumberOfFrames
    0x00280010,  # Rows
    0x00280011,  # Columns
    0x00280100,  # BitsAllocated
    0x00280101,  # BitsStored
    0x00280103,  # PixelRepresentation
    0x52009230,  # PerFrameFunctionalGroupsSequence
)


def pixel_description(header: Dataset) -> tuple:
    """The raw values of the elements that describe the pixels, compared without pydicom converting
    them (the slices of a series share one description, and converting each costs more than reading
    the pixels' offsets)."""
    values = []
    for tag in _PIXEL_DESCRIPTION:
        element = header.get_item(tag)
        value = None if element is None else element.value
        values.append(value if value is None or isinstance(value, (bytes, str, int)) else id(value))
    syntax = header.file_meta.get_item(0x00020010)
    values.append(None if syntax is None else syntax.value)
    return tuple(values)


def check_image_headers(items: Sequence[tuple[Path, Dataset]]) -> None:
    """:func:`check_image_header` for each header, once per distinct pixel description."""
    checked: set[tuple] = set()
    for path, header in items:
        description = pixel_description(header)
        if description not in checked:
            check_image_header(header, path)
            checked.add(description)


def check_image_header(header: Dataset, path: Path) -> None:
    """Refuse a DICOM image header whose pixel description is missing, unreadable or impossible."""
    try:
        _check_image_header(header, path)
    except (ValueError, TypeError, NotImplementedError, BytesLengthException) as error:
        # pydicom converts an element's raw bytes on first access: a damaged one fails here
        reason = " ".join(str(error).split())[:200] or type(error).__name__
        raise ScanError(f"the DICOM header cannot be read ({reason})", path) from error


def _check_image_header(header: Dataset, path: Path) -> None:
    if "TransferSyntaxUID" not in header.file_meta:
        raise ScanError(
            "the DICOM file has no TransferSyntaxUID: how its pixels are encoded is unknown", path
        )
    for keyword in ("Rows", "Columns", "BitsAllocated", "BitsStored"):
        if header.get(keyword) is None:
            raise ScanError(f"the DICOM header has no {keyword}: the pixels cannot be read", path)
    rows, columns, bits = int(header.Rows), int(header.Columns), int(header.BitsAllocated)
    if rows < 1 or columns < 1:
        raise ScanError(f"the DICOM header says the image is {rows}x{columns} pixels", path)
    if bits not in _BITS_ALLOCATED:
        raise ScanError(f"BitsAllocated is {bits}; a DICOM image has 1, 8, 16, 32 or 64", path)
    stored = int(header.BitsStored)
    if not 1 <= stored <= bits:
        raise ScanError(f"BitsStored is {stored} but BitsAllocated is {bits}", path)
    samples = int(header.get("SamplesPerPixel", 1))
    if samples not in (1, 3):
        raise ScanError(f"SamplesPerPixel is {samples}; medview reads 1 (grey) or 3 (colour)", path)
    if int(header.get("PixelRepresentation", 0)) not in (0, 1):
        raise ScanError(f"PixelRepresentation is {header.PixelRepresentation}; it must be 0 or 1", path)
    frames = frame_count(header, path)
    described = header.get("PerFrameFunctionalGroupsSequence")
    if described is not None and len(described) < frames:
        raise ScanError(
            f"NumberOfFrames is {frames} but the header describes {len(described)} frames "
            "(PerFrameFunctionalGroupsSequence)",
            path,
        )


def decoded_bytes(header: Dataset, path: Path) -> int:
    """Bytes of the decoded pixels of one file: Rows x Columns x frames x samples x bytes."""
    samples = int(header.get("SamplesPerPixel", 1))
    itemsize = max(int(header.BitsAllocated) // 8, 1)
    return int(header.Rows) * int(header.Columns) * frame_count(header, path) * samples * itemsize


def native_length(header: Dataset, path: Path) -> int:
    """Bytes of uncompressed pixel data the header calls for (1-bit data packed across frames)."""
    rows, columns, frames = int(header.Rows), int(header.Columns), frame_count(header, path)
    samples = int(header.get("SamplesPerPixel", 1))
    if str(header.get("PhotometricInterpretation", "")) == "YBR_FULL_422":
        samples = 2  # two luminance values share one pair of chroma values
    bits = rows * columns * frames * samples * int(header.BitsAllocated)
    return math.ceil(bits / 8)


def check_native_length(
    header: Dataset, length: int | None, offset: int, path: Path, needed: int | None = None
) -> None:
    """Refuse uncompressed pixel data shorter or longer than the header says, or cut off.

    One byte more is the padding that keeps an odd length even; zero bytes after the image, less than
    one frame of them, are padding some writers add (pydicom drops it too). More data than that is an
    image whose Rows x Columns is wrong, and would show as stripes.
    """
    needed = native_length(header, path) if needed is None else needed
    if length is None:
        raise ScanError(
            "the pixel data has no length although the image is uncompressed; the file is corrupt", path
        )
    if length not in (needed, needed + 1) and not _zero_padding(path, offset, needed, length, header):
        raise ScanError(
            f"pixel data is {length} bytes but {_size_formula(header, path)} needs {needed} "
            f"({header.BitsAllocated} bits per sample)",
            path,
        )
    present = path.stat().st_size - offset
    if present < needed:
        raise ScanError(
            f"the file is truncated: pixel data should be {needed} bytes but the file ends after "
            f"{max(present, 0)}",
            path,
        )


def _zero_padding(path: Path, offset: int, needed: int, length: int, header: Dataset) -> bool:
    """True when the bytes past the image are fewer than one frame and all zero."""
    frame = needed // max(frame_count(header, path), 1)
    if not needed < length < needed + frame:
        return False
    with open(path, "rb") as handle:
        handle.seek(offset + needed)
        excess = handle.read(length - needed)
    return len(excess) == length - needed and not any(excess)


def check_fragments(path: Path, offset: int) -> list[tuple[int, int]]:
    """Walk the items of encapsulated (compressed) pixel data; returns the fragments' (offset, length).

    Refuses an item that runs past the end of the file and a sequence without its delimiter: the
    signs of a truncated compressed stream, which decoders may otherwise fill in with grey.
    """
    size = path.stat().st_size
    items = []
    with open(path, "rb") as handle:
        position = offset
        while True:
            handle.seek(position)
            head = handle.read(8)
            if len(head) < 8:
                raise ScanError(
                    "the compressed pixel data is cut off: the file ends before its end-of-sequence marker",
                    path,
                )
            group, element, length = struct.unpack("<HHI", head)
            tag = group << 16 | element
            if tag == _SEQUENCE_END:
                return items[1:]  # the first item is the basic offset table
            if tag != _ITEM:
                raise ScanError(
                    f"the compressed pixel data is damaged: expected a fragment at byte {position}, "
                    f"found tag ({group:04X},{element:04X})",
                    path,
                )
            items.append((position + 8, length))
            position += 8 + length
            if position > size:
                raise ScanError(
                    f"the compressed pixel data is cut off: fragment {len(items) - 1} should be "
                    f"{length} bytes but the file ends after {size - (position - length)}",
                    path,
                )


def _has_undefined_length(path: Path, offset: int) -> bool:
    """True when the pixel data element that ends at ``offset`` has undefined length, read from the
    file itself: some writers give it an element header of the wrong form, which pydicom tolerates."""
    with open(path, "rb") as handle:
        handle.seek(max(offset - 4, 0))
        return handle.read(4) == b"\xff\xff\xff\xff"


def check_jpeg_ends(path: Path, fragments: list[tuple[int, int]], frames: int) -> None:
    """Refuse a JPEG-family codestream (JPEG, JPEG-LS, JPEG 2000) cut off inside its fragment.

    Each such codestream ends with the end-of-image marker FFD9 (then at most padding bytes);
    decoders fill a missing tail with grey instead of failing. With one fragment per frame every
    frame is checked, otherwise the last fragment.
    """
    ends = fragments if len(fragments) == frames else fragments[-1:]
    with open(path, "rb") as handle:
        for number, (start, length) in enumerate(ends, start=1):
            handle.seek(start + max(length - 16, 0))
            tail = handle.read(min(length, 16)).rstrip(b"\0\xff")
            if not tail.endswith(b"\xff\xd9"):
                where = f"frame {number}" if len(ends) > 1 else "the compressed image"
                raise ScanError(
                    f"the compressed pixel data is cut off: {where} lacks its end-of-image marker", path
                )


def check_decoded_shape(pixels: np.ndarray, expected: tuple[int, ...], path: Path) -> np.ndarray:
    """The decoded pixels in the header's shape; refused when their size disagrees with it."""
    if pixels.shape == expected:
        return pixels
    if pixels.size == math.prod(expected):  # one frame decodes without its frame axis
        return pixels.reshape(expected)
    names = "frames x Rows x Columns" + (" x samples" if len(expected) == 4 else "")
    raise ScanError(
        f"the decoded pixels have shape {'x'.join(map(str, pixels.shape))} but {names} in the header is "
        f"{'x'.join(map(str, expected))}",
        path,
    )


def _size_formula(header: Dataset, path: Path) -> str:
    names, values = ["Rows", "Columns"], [int(header.Rows), int(header.Columns)]
    frames, samples = frame_count(header, path), int(header.get("SamplesPerPixel", 1))
    if frames > 1:
        names.append("frames")
        values.append(frames)
    if samples > 1:
        names.append("samples")
        values.append(samples)
    return f"{' x '.join(names)} ({'x'.join(map(str, values))})"
