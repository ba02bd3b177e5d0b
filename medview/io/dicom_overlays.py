"""DICOM overlay planes (groups 6000-601E) as label maps on their image's grid.

An overlay plane is a 1-bit bitmap (OverlayData, or a bit of the stored pixel values in old files
with OverlayBitPosition != 0) drawn at OverlayOrigin, the 1-based (row, column) of the image pixel
under its first pixel. Each plane becomes one attached label map with value 1, named after the
plane's number and its OverlayDescription or OverlayLabel.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from pydicom.dataset import Dataset

from medview.core.labels import LabelClass, LabelTable
from medview.core.provenance import Provenance
from medview.core.scan import AttachedLabels, LabelMap, Scan
from medview.io.dicom_series import DicomSeries, PixelSpan, frame_order

OVERLAY_GROUPS = tuple(range(0x6000, 0x6020, 2))
OVERLAY_COLOUR = (255, 255, 0)
_ROWS, _COLUMNS, _DESCRIPTION, _LABEL = 0x0010, 0x0011, 0x0022, 0x1500
_FRAMES, _FRAME_ORIGIN, _ORIGIN = 0x0015, 0x0051, 0x0050
_BIT_POSITION, _DATA = 0x0102, 0x3000
_NATIVE = {"1.2.840.10008.1.2", "1.2.840.10008.1.2.1"}  # implicit and explicit VR little endian


def overlay_labels(series: DicomSeries, scan: Scan) -> list[AttachedLabels]:
    """The overlay planes of ``series``' files as label maps on ``scan``'s grid (read from ``series``).

    Single-frame files give one slice each (array order), a multi-frame volume its frames in the
    order the volume was read; a 2D image (with or without a time axis) shows the overlay of its
    first frame. A plane that cannot be read is left out with a warning in ``scan.warnings``.
    """
    attached = []
    files = list(zip(series.headers, series.paths, series.spans, strict=True))
    for group in OVERLAY_GROUPS:
        holders = [item for item in files if _tag(group, _ROWS) in item[0]]
        if not holders:
            continue
        array = np.zeros(scan.spatial_shape, dtype=np.uint8)
        try:
            if scan.geometry.ndim == 2:
                _place(array, *_frame_of(holders[0], group, 0))
            elif series.frames_per_file > 1:
                bitmaps = _bitmaps(holders[0], group)
                for index, frame in enumerate(frame_order(holders[0][0])):
                    _place(array[index], *_frame_of(holders[0], group, frame, bitmaps))
            else:
                for index, item in enumerate(files):
                    if _tag(group, _ROWS) in item[0]:
                        _place(array[index], *_frame_of(item, group, 0))
        except ValueError as error:
            scan.warnings.append(f"overlay {_number(group)} of {holders[0][1].name} is not shown: {error}")
            continue
        description = next((d for d in (_description(h, group) for h, _, _ in holders) if d), "")
        name = f"overlay {_number(group)}" + (f" ({description})" if description else "")
        table = LabelTable([LabelClass(1, description or f"overlay {_number(group)}", OVERLAY_COLOUR)])
        label_map = LabelMap(array, scan.geometry, table, Provenance("import", derived_from=scan.source))
        attached.append(AttachedLabels(name, label_map))
    return attached


_File = tuple[Dataset, Path, PixelSpan | None]


def _frame_of(
    item: _File, group: int, image_frame: int, bitmaps: np.ndarray | None = None
) -> tuple[np.ndarray | None, tuple[int, int]]:
    """The plane's bitmap over 0-based ``image_frame`` (``None`` if it has none) and its origin."""
    header = item[0]
    bitmaps = _bitmaps(item, group) if bitmaps is None else bitmaps
    index = image_frame - (int(_value(header, group, _FRAME_ORIGIN, 1) or 1) - 1)
    bitmap = bitmaps[index] if 0 <= index < len(bitmaps) else None
    return bitmap, _origin(header, group)


def _bitmaps(item: _File, group: int) -> np.ndarray:
    """The plane's bitmaps, ``(frames, rows, columns)`` of 0/1."""
    header, path, span = item
    rows, columns = int(_value(header, group, _ROWS)), int(_value(header, group, _COLUMNS))
    frames = int(_value(header, group, _FRAMES, 1) or 1)
    count = frames * rows * columns
    if _tag(group, _DATA) in header:
        packed = np.frombuffer(header[_tag(group, _DATA)].value, dtype=np.uint8)
        bits = np.unpackbits(packed, bitorder="little")
    else:
        bits = _embedded_bits(header, group, path, span, count)
    if bits.size < count:
        raise ValueError(f"its data holds {bits.size} bits, but {frames}x{rows}x{columns} are needed")
    return bits[:count].reshape(frames, rows, columns)


def _embedded_bits(header: Dataset, group: int, path: Path, span: PixelSpan | None, count: int) -> np.ndarray:
    """A plane kept in bit OverlayBitPosition of the stored pixel values (retired, native data only)."""
    position = int(_value(header, group, _BIT_POSITION, 0))
    allocated = int(header.get("BitsAllocated", 16))
    if position == 0:
        raise ValueError("it has no OverlayData")
    native = str(header.file_meta.get("TransferSyntaxUID", "")) in _NATIVE
    if not native or span is None or span.length is None or allocated not in (8, 16, 32):
        raise ValueError("it is embedded in pixel data that is compressed or not native little-endian")
    dtype = np.dtype(f"<u{allocated // 8}")
    with open(path, "rb") as handle:
        handle.seek(span.offset)
        stored = np.frombuffer(handle.read(min(span.length, count * dtype.itemsize)), dtype=dtype)
    return ((stored >> position) & 1).astype(np.uint8)


def _place(target: np.ndarray, bitmap: np.ndarray | None, origin: tuple[int, int]) -> None:
    """OR ``bitmap`` into ``target`` with its first pixel at ``origin`` (0-based row, column)."""
    if bitmap is None:
        return
    top, left = origin
    rows, columns = bitmap.shape
    y0, x0 = max(top, 0), max(left, 0)
    y1, x1 = min(top + rows, target.shape[0]), min(left + columns, target.shape[1])
    if y1 > y0 and x1 > x0:
        target[y0:y1, x0:x1] |= bitmap[y0 - top : y1 - top, x0 - left : x1 - left]


def _origin(header: Dataset, group: int) -> tuple[int, int]:
    origin = _value(header, group, _ORIGIN, (1, 1))
    row, column = (int(v) for v in origin) if len(origin) >= 2 else (1, 1)
    return row - 1, column - 1


def _description(header: Dataset, group: int) -> str:
    for element in (_DESCRIPTION, _LABEL):
        text = str(_value(header, group, element, "") or "").strip()
        if text:
            return text
    return ""


def _value(header: Dataset, group: int, element: int, default=None):
    tag = _tag(group, element)
    return header[tag].value if tag in header and header[tag].value is not None else default


def _tag(group: int, element: int) -> int:
    return group << 16 | element


def _number(group: int) -> int:
    return (group - 0x6000) // 2 + 1
