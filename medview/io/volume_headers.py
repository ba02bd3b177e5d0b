"""Headers of NIfTI-1, NRRD and MetaImage files, read and checked before SimpleITK sees them.

ITK trusts what a header says: it opens a NIfTI-1 whose ``sizeof_hdr`` is wrong, opens a MetaImage
with a zero size as an empty image, fills truncated NIfTI voxel data with zeros, and crashes the
whole process on a MetaImage whose ``NDims`` is absurd. So each header is parsed here first, and
anything it cannot mean is refused with a ``ScanError`` that says what is wrong.
"""

from __future__ import annotations

import gzip
import math
import re
import struct
import zlib
from pathlib import Path

from medview.io.errors import ScanError

NIFTI1_HEADER_SIZE = 348
_NIFTI2_HEADER_SIZE = 540
_NIFTI_FIRST_VOXEL = 352  # 348 header bytes and the 4-byte extension flag
# NIfTI-1 datatype code -> bits per voxel (nifti1.h)
_NIFTI_BITS = {2: 8, 4: 16, 8: 32, 16: 32, 32: 64, 64: 64, 128: 24, 256: 8, 512: 16, 768: 32, 1024: 64,
               1280: 64, 1536: 128, 1792: 128, 2048: 256, 2304: 32}  # fmt: skip
_TEXT_HEADER_LIMIT = 1 << 20
_NRRD_TYPES = {
    "signed char", "int8", "int8_t", "uchar", "unsigned char", "uint8", "uint8_t", "short", "short int",
    "signed short", "signed short int", "int16", "int16_t", "ushort", "unsigned short",
    "unsigned short int", "uint16", "uint16_t", "int", "signed int", "int32", "int32_t", "uint",
    "unsigned int", "uint32", "uint32_t", "longlong", "long long", "long long int", "signed long long",
    "signed long long int", "int64", "int64_t", "ulonglong", "unsigned long long",
    "unsigned long long int", "uint64", "uint64_t", "float", "double", "block",
}  # fmt: skip
_META_TYPES = {
    f"MET_{name}{suffix}"
    for name in (
        "CHAR",
        "UCHAR",
        "SHORT",
        "USHORT",
        "INT",
        "UINT",
        "LONG",
        "ULONG",
        "LONG_LONG",
        "ULONG_LONG",
        "FLOAT",
        "DOUBLE",
    )  # fmt: skip
    for suffix in ("", "_ARRAY")
}
_MAX_META_DIMS = 10  # MetaIO's own limit


def check_volume_header(path: Path) -> None:
    """Refuse a NIfTI, NRRD or MetaImage file whose header is damaged or names missing data."""
    name = path.name.lower()
    if name.endswith((".nii", ".nii.gz")):
        nifti_voxel_offset(path)
    elif name.endswith((".nrrd", ".nhdr")):
        _check_nrrd(path)
    elif name.endswith((".mha", ".mhd")):
        _check_metaimage(path)


def nifti_voxel_offset(path: Path) -> int:
    """Where a NIfTI-1 file's voxels start (``vox_offset``), after checking its header.

    Refuses a wrong ``sizeof_hdr`` or magic, a NIfTI-2 file (ITK reads NIfTI-1 only), dimensions
    out of range, a datatype that disagrees with ``bitpix``, and non-finite scaling.
    """
    header = _nifti_header_bytes(path)
    if len(header) < 4:
        raise _header_error(f"the file is too short for a NIfTI header ({len(header)} bytes)", path)
    order = next((o for o in "<>" if _unpack(o + "i", header, 0) in (NIFTI1_HEADER_SIZE, 540)), None)
    if order is None:
        raise _header_error(f"sizeof_hdr is {_unpack('<i', header, 0)}, a NIfTI-1 header says 348", path)
    if _unpack(order + "i", header, 0) == _NIFTI2_HEADER_SIZE:
        raise _header_error(
            "this is a NIfTI-2 file, which medview cannot read (ITK reads NIfTI-1 only)", path
        )
    if len(header) < NIFTI1_HEADER_SIZE:
        raise _header_error(f"the file ends inside it, after {len(header)} bytes", path)
    magic = header[344:348]
    if magic == b"ni1\0":
        raise _header_error(
            "the magic is 'ni1' (voxels in a separate .img file) but this is a single .nii file", path
        )
    if magic != b"n+1\0":
        raise _header_error(f"the magic is {magic.rstrip(bytes(1))!r}, a NIfTI-1 file says 'n+1'", path)
    dims = struct.unpack_from(order + "8h", header, 40)
    if not 1 <= dims[0] <= 7:
        raise _header_error(f"dim[0] (the number of dimensions) is {dims[0]}; it must be 1 to 7", path)
    for axis in range(1, dims[0] + 1):
        if dims[axis] < 1:
            raise _header_error(f"dim[{axis}] is {dims[axis]}: every dimension must be at least 1", path)
    datatype, bitpix = struct.unpack_from(order + "hh", header, 70)
    if datatype not in _NIFTI_BITS:
        raise _header_error(f"datatype {datatype} is not a NIfTI-1 data type", path)
    if bitpix != _NIFTI_BITS[datatype]:
        raise _header_error(
            f"bitpix is {bitpix} but datatype {datatype} has {_NIFTI_BITS[datatype]} bits", path
        )
    pixdim = struct.unpack_from(order + "8f", header, 76)
    offset, slope, intercept = struct.unpack_from(order + "3f", header, 108)
    for name, value in [*((f"pixdim[{a}]", pixdim[a]) for a in range(1, min(dims[0], 4) + 1)),
                        ("scl_slope", slope), ("scl_inter", intercept)]:  # fmt: skip
        if not math.isfinite(value):
            raise _header_error(f"{name} is {value}; the header is damaged", path)
    if not math.isfinite(offset) or offset < _NIFTI_FIRST_VOXEL:
        raise _header_error(
            f"vox_offset is {offset}: the voxels of a .nii file start at byte 352 or later", path
        )
    return int(offset)


def nifti_voxel_size_note(path: Path) -> str:
    """Why a NIfTI-1 header gives no voxel size (a spatial ``pixdim`` of 0 or less), or ``""``.

    ITK reads such a pixdim as 1 mm; medview shows the file in voxels instead of inventing a size.
    Call after :func:`nifti_voxel_offset` has checked the header.
    """
    header = _nifti_header_bytes(path)
    order = "<" if _unpack("<i", header, 0) == NIFTI1_HEADER_SIZE else ">"
    dims = struct.unpack_from(order + "8h", header, 40)
    pixdim = struct.unpack_from(order + "8f", header, 76)
    missing = [
        f"pixdim[{axis}] is {pixdim[axis]:g}" for axis in range(1, min(dims[0], 3) + 1) if pixdim[axis] <= 0
    ]
    if not missing:
        return ""
    return (
        f"the NIfTI header gives no voxel size ({', '.join(missing)}): it is shown in voxels, nothing in mm"
    )


def check_nifti_length(path: Path, needed: int) -> None:
    """Refuse a NIfTI whose voxel data stops before the header says it ends (ITK would zero-fill).

    For ``.nii.gz`` this decompresses the stream once more: the only way to know its length.
    """
    offset = nifti_voxel_offset(path)
    compressed = path.name.lower().endswith(".gz")
    try:
        if compressed:
            with gzip.open(path, "rb") as handle:
                total = _stream_length(handle)
        else:
            total = path.stat().st_size
    except (EOFError, OSError, zlib.error) as error:
        raise ScanError(f"the compressed file is truncated or corrupt ({error})", path) from error
    if total - offset < needed:
        raise ScanError(
            f"the file is truncated: the header promises {needed} bytes of voxel data, "
            f"the file holds {max(total - offset, 0)}",
            path,
        )


def _nifti_header_bytes(path: Path) -> bytes:
    try:
        with gzip.open(path, "rb") if path.name.lower().endswith(".gz") else open(path, "rb") as handle:
            return handle.read(NIFTI1_HEADER_SIZE)
    except (EOFError, OSError, zlib.error) as error:
        raise ScanError(f"the compressed file is truncated or corrupt ({error})", path) from error


def _check_nrrd(path: Path) -> None:
    lines = _text_header(path, stop=lambda line: line == "")
    if not lines or not lines[0].startswith("NRRD000"):
        raise _header_error("not a NRRD file: it does not start with 'NRRD000'", path)
    fields = {}
    for line in lines[1:]:
        if line.startswith("#") or ":=" in line or ":" not in line:
            continue
        key, value = line.split(":", 1)
        fields[key.strip().lower()] = value.strip()
    dimension = _whole(fields.get("dimension"), "dimension", path)
    if not 1 <= dimension <= 16:
        raise _header_error(f"dimension is {dimension}; a NRRD image has 1 to 16", path)
    _sizes(fields.get("sizes", ""), dimension, "sizes", path)
    if fields.get("type", "").lower() not in _NRRD_TYPES:
        raise _header_error(f"type {fields.get('type', '')!r} is not a NRRD pixel type", path)
    data_file = fields.get("data file", fields.get("datafile"))
    if data_file and not data_file.startswith("LIST"):  # LIST: the file names follow the header
        _check_data_file(data_file.split()[0], path)


def _check_metaimage(path: Path) -> None:
    lines = _text_header(path, stop=lambda line: line.replace(" ", "").startswith("ElementDataFile="))
    fields = {}
    for line in lines:
        if "=" in line:
            key, value = line.split("=", 1)
            fields[key.strip()] = value.strip()
    if "NDims" not in fields or "ElementDataFile" not in fields:
        missing = "NDims" if "NDims" not in fields else "ElementDataFile"
        raise _header_error(f"not a MetaImage header: it has no {missing}", path)
    dims = _whole(fields["NDims"], "NDims", path)
    if not 1 <= dims <= _MAX_META_DIMS:
        raise _header_error(f"NDims is {dims}; a MetaImage has 1 to {_MAX_META_DIMS} dimensions", path)
    _sizes(fields.get("DimSize", ""), dims, "DimSize", path)
    for key, count in (("ElementSpacing", dims), ("ElementSize", dims), ("Offset", dims), ("Position", dims),
                       ("Origin", dims), ("TransformMatrix", dims * dims), ("Rotation", dims * dims),
                       ("Orientation", dims * dims)):  # fmt: skip
        if key in fields and len(fields[key].split()) != count:
            raise _header_error(f"{key} has {len(fields[key].split())} values but NDims is {dims}", path)
    if fields.get("ElementType") not in _META_TYPES:
        raise _header_error(
            f"ElementType {fields.get('ElementType', '')!r} is not a MetaImage pixel type", path
        )
    if _whole(fields.get("ElementNumberOfChannels", "1"), "ElementNumberOfChannels", path) < 1:
        raise _header_error("ElementNumberOfChannels must be at least 1", path)
    data_file = fields["ElementDataFile"]
    if data_file != "LOCAL" and not data_file.startswith("LIST") and "%" not in data_file:
        _check_data_file(data_file, path)


def _check_data_file(name: str, header: Path) -> None:
    if "%" in name:  # a numbered series of slice files
        return
    target = header.parent / name
    if not target.is_file():
        raise ScanError(f"the data file {name} named by {header.name} is missing", header)


def _text_header(path: Path, stop) -> list[str]:
    """The header lines of a text-header format, up to and including the line ``stop`` accepts."""
    with open(path, "rb") as handle:
        head = handle.read(_TEXT_HEADER_LIMIT)
    lines = []
    for raw in head.split(b"\n"):
        line = raw.rstrip(b"\r").decode("latin-1")
        if stop(line):
            if line:
                lines.append(line)
            return lines
        lines.append(line)
    raise _header_error("the header has no end: the file is damaged or not an image", path)


def _whole(value: str | None, name: str, path: Path) -> int:
    if value is None:
        raise _header_error(f"the header has no {name}", path)
    if not re.fullmatch(r"[+-]?\d+", value.strip()):
        raise _header_error(f"{name} is {value!r}, not a whole number", path)
    return int(value)


def _sizes(text: str, count: int, name: str, path: Path) -> list[int]:
    values = text.split()
    if len(values) != count or not all(re.fullmatch(r"[+-]?\d+", v) for v in values):
        raise _header_error(f"{name} is {text!r}; it must be {count} whole numbers", path)
    sizes = [int(v) for v in values]
    if min(sizes) < 1:
        raise _header_error(f"{name} is {text!r}: every size must be at least 1", path)
    return sizes


def _header_error(problem: str, path: Path) -> ScanError:
    return ScanError(f"the image header cannot be read: {problem}", path)


def _unpack(fmt: str, data: bytes, offset: int) -> int:
    return struct.unpack_from(fmt, data, offset)[0]


def _stream_length(handle) -> int:
    length = 0
    while chunk := handle.read(1 << 24):
        length += len(chunk)
    return length
