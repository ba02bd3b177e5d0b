"""Whether a DICOM image was lossy compressed, as a short note the window shows on the image.

Lossy compression is a clinical fact: fine detail may be gone. It is stated either by the header
(LossyImageCompression "01", with LossyImageCompressionMethod and Ratio, kept even after the image
was decompressed again) or by the transfer syntax itself (JPEG baseline, lossy JPEG 2000, ...).
"""

from __future__ import annotations

from collections.abc import Sequence

from pydicom.dataset import Dataset
from pydicom.multival import MultiValue

# Lossy transfer syntaxes and the method code (CID 7203) each one means.
LOSSY_SYNTAXES = {
    "1.2.840.10008.1.2.4.50": "ISO_10918_1",  # JPEG baseline
    "1.2.840.10008.1.2.4.51": "ISO_10918_1",  # JPEG extended (12 bit)
    "1.2.840.10008.1.2.4.81": "ISO_14495_1",  # JPEG-LS near-lossless
    "1.2.840.10008.1.2.4.91": "ISO_15444_1",  # JPEG 2000 (lossy allowed)
    "1.2.840.10008.1.2.4.93": "ISO_15444_2",  # JPEG 2000 part 2 multi-component
    "1.2.840.10008.1.2.4.203": "ISO_15444_15",  # high-throughput JPEG 2000
    "1.2.840.10008.1.2.4.100": "ISO_13818_2",  # MPEG-2
    "1.2.840.10008.1.2.4.101": "ISO_13818_2",
    "1.2.840.10008.1.2.4.102": "ISO_14496_10",  # MPEG-4 AVC / H.264
    "1.2.840.10008.1.2.4.103": "ISO_14496_10",
    "1.2.840.10008.1.2.4.104": "ISO_14496_10",
    "1.2.840.10008.1.2.4.105": "ISO_14496_10",
    "1.2.840.10008.1.2.4.106": "ISO_14496_10",
    "1.2.840.10008.1.2.4.107": "ISO_23008_2",  # HEVC / H.265
    "1.2.840.10008.1.2.4.108": "ISO_23008_2",
    "1.2.840.10008.1.2.4.111": "ISO_18181_1",  # JPEG XL recompressed from JPEG
    "1.2.840.10008.1.2.4.112": "ISO_18181_1",  # JPEG XL
}
# These may also hold reversibly coded images: a header saying "00" (not lossy) is then believed.
_EITHER_SYNTAXES = {"1.2.840.10008.1.2.4.91", "1.2.840.10008.1.2.4.93", "1.2.840.10008.1.2.4.203"}


def lossy_compression(headers: Sequence[Dataset]) -> str:
    """``lossy compressed (ISO_10918_1, ratio 10:1)`` when any image of a series says it was lossy
    compressed or is stored in a lossy transfer syntax; ``""`` otherwise."""
    for header in headers:
        note = _note(header)
        if note:
            return note
    return ""


def _note(header: Dataset) -> str:
    meta = getattr(header, "file_meta", None)
    syntax = str(meta.get("TransferSyntaxUID", "")) if meta is not None else ""
    flag = str(header.get("LossyImageCompression", "") or "").strip()
    lossy_syntax = syntax in LOSSY_SYNTAXES and not (syntax in _EITHER_SYNTAXES and flag == "00")
    if flag != "01" and not lossy_syntax:
        return ""
    methods = _values(header.get("LossyImageCompressionMethod"))
    if not methods:
        methods = [LOSSY_SYNTAXES.get(syntax) or "method not stated"]
    ratios = [ratio for ratio in map(_ratio, _values(header.get("LossyImageCompressionRatio"))) if ratio]
    details = ", ".join(methods) + (f", ratio {', '.join(ratios)}" if ratios else "")
    return f"lossy compressed ({details})"


def _values(value) -> list[str]:
    items = list(value) if isinstance(value, MultiValue) else [] if value is None else [value]
    return [str(item).strip() for item in items if str(item).strip()]


def _ratio(value: str) -> str:
    try:
        number = float(value)
    except ValueError:
        return ""
    return f"{number:.1f}".rstrip("0").rstrip(".") + ":1" if number > 0 else ""
