"""Seeded, reproducible damage done to copies of the fuzzing seeds (``fuzz_seeds``).

Mutations flip or overwrite bytes in the header and in the data, truncate, insert or delete chunks,
set integer header fields (NIfTI dims, TIFF tags, DICOM attributes, NRRD/MetaImage lines) to
boundary values, damage one tile of a slide, and remove or resize a detached data file. Opening the
results is ``fuzz_runner``'s job; ``tests/io/test_fuzz.py`` and ``benchmarks/fuzz_readers.py`` use both.
"""

from __future__ import annotations

import gzip
import logging
import random
import shutil
import struct
import warnings
import zlib
from dataclasses import dataclass
from pathlib import Path

from fuzz_seeds import Field, Seed, build_seeds


@dataclass(frozen=True)
class Case:
    """One mutated copy of a seed."""

    seed: str
    mutation: str
    path: Path


# --- mutations -----------------------------------------------------------------------------------


def mutate(seeds: list[Seed], count: int, folder: Path, seed: int = 0) -> list[Case]:
    """``count`` mutated copies of the seeds (round robin), reproducible from ``seed``."""
    rng = random.Random(seed)
    folder.mkdir(parents=True, exist_ok=True)
    cases = []
    for index in range(count):
        chosen = seeds[index % len(seeds)]
        root = folder / f"case{index:05d}-{chosen.name}"
        shutil.copytree(chosen.root, root)
        description = _mutate_one(chosen, root, rng)
        cases.append(Case(chosen.name, description, root / chosen.opens))
    return cases


def _mutate_one(seed: Seed, root: Path, rng: random.Random) -> str:
    target = root / seed.target
    data = bytearray(target.read_bytes())
    kinds = ["header", "header", "data", "truncate", "insert", "delete"]
    if seed.fields:
        kinds += ["field"] * 4
    if seed.name.startswith("dicom"):
        kinds += ["dicom"] * 4
    if seed.name.startswith(("nrrd", "mha", "mhd")):
        kinds += ["text"] * 4
    if seed.name == "mhd":
        kinds += ["raw"] * 2
    if seed.chunks:
        kinds += ["tile"] * 3
    kind = rng.choice(kinds)
    inner = seed.gzipped and kind != "truncate" and rng.random() < 0.7
    if inner:
        data = bytearray(gzip.decompress(bytes(data)))
    if kind == "dicom":
        return _dicom_attribute(target, rng)
    if kind == "raw":
        return _mutate_raw(root / "case.raw", rng)
    if kind == "text":
        description = _text_field(data, rng)
    elif kind == "field":
        description = _set_field(data, rng.choice(seed.fields), rng)
        if seed.name == "png":
            struct.pack_into(">I", data, 29, zlib.crc32(bytes(data[12:29])))
    elif kind == "tile":
        description = _damage_chunk(data, seed.chunks, rng)
    else:
        description = _bytes(data, kind, min(seed.data_start, len(data)), rng)
    target.write_bytes(gzip.compress(bytes(data)) if inner else bytes(data))
    return ("gz inner " if inner else "") + description


def _bytes(data: bytearray, kind: str, data_start: int, rng: random.Random) -> str:
    size = len(data)
    if kind == "header" and data_start > 0:
        offsets = [rng.randrange(data_start) for _ in range(rng.randint(1, 8))]
        for offset in offsets:
            data[offset] = rng.choice([0x00, 0xFF, 0x7F, 0x80, rng.randrange(256), data[offset] ^ 0xFF])
        return f"header bytes {sorted(offsets)}"
    if kind in ("header", "data"):
        start = rng.randrange(data_start, size) if data_start < size else rng.randrange(size)
        length = min(rng.choice([1, 4, 16, 256, 4096]), size - start)
        data[start : start + length] = bytes(rng.randrange(256) for _ in range(length))
        return f"data bytes {start}+{length}"
    if kind == "truncate":
        cut = rng.choice([rng.randrange(1, size), data_start, data_start + 1, size - 1, size - 2])
        del data[max(1, min(cut, size - 1)) :]
        return f"truncated at {cut} of {size}"
    start = rng.randrange(size)
    length = min(rng.choice([1, 2, 8, 64, 1024]), size - start)
    if kind == "insert":
        at = rng.randrange(size)
        data[at:at] = data[start : start + length]
        return f"{length} bytes from {start} inserted at {at}"
    del data[start : start + length]
    return f"{length} bytes deleted at {start}"


def _damage_chunk(data: bytearray, chunks: tuple[tuple[int, int], ...], rng: random.Random) -> str:
    """Overwrite a few bytes inside one tile or strip (a JPEG tile: often "Bogus marker length")."""
    number = rng.randrange(len(chunks))
    offset, length = chunks[number]
    start = offset + rng.randrange(max(length, 1))
    size = min(rng.choice([1, 2, 4, 32]), len(data) - start)
    data[start : start + size] = bytes(rng.choice([0x00, 0xFF, rng.randrange(256)]) for _ in range(size))
    return f"tile {number}: {size} bytes at {start}"


def boundary_values(fmt: str, current: float | int) -> list:
    """Values at the edges of a field's range, and near its current value."""
    code = fmt[-1]
    if code in "fd":
        return [0.0, -1.0, float("nan"), float("inf"), -float("inf"), 1e30, -1e-30, current * 1000]
    bits = struct.calcsize(fmt) * 8
    if code.islower():
        low, high = -(1 << (bits - 1)), (1 << (bits - 1)) - 1
    else:
        low, high = 0, (1 << bits) - 1
    values = [
        0,
        1,
        -1,
        2,
        high,
        low,
        high // 2 + 1,
        current + 1,
        current - 1,
        current * 2,
        current * 1000,
        current + 2,
        200000,
        65535,
        32767,
    ]
    return [v for v in values if low <= v <= high]


def _set_field(data: bytearray, target: Field, rng: random.Random) -> str:
    if target.offset + struct.calcsize(target.format) > len(data):
        return f"{target.name} beyond the end"
    (current,) = struct.unpack_from(target.format, data, target.offset)
    value = rng.choice(boundary_values(target.format, current))
    try:
        struct.pack_into(target.format, data, target.offset, value)
    except (struct.error, OverflowError):  # a multiple of a large float: take the largest instead
        value = float("inf")
        struct.pack_into(target.format, data, target.offset, value)
    return f"{target.name} {current} -> {value}"


_DICOM_VALUES = {
    "Rows": [0, 1, 2, 65535, 40000, 512],
    "Columns": [0, 1, 2, 65535, 40000, 512],
    "NumberOfFrames": ["0", "-1", "2", "1000", "2147483647", "99999999", "x", ""],
    "BitsAllocated": [0, 1, 8, 12, 16, 32, 64, 65535],
    "BitsStored": [0, 1, 8, 12, 16, 17, 33, 65535],
    "HighBit": [0, 7, 15, 31, 65535],
    "SamplesPerPixel": [0, 1, 2, 3, 4, 65535],
    "PixelRepresentation": [0, 1, 2],
    "PlanarConfiguration": [0, 1, 2],
    "PhotometricInterpretation": [
        "MONOCHROME1",
        "MONOCHROME2",
        "RGB",
        "PALETTE COLOR",
        "YBR_FULL",
        "YBR_FULL_422",
        "",
        "XYZ",
    ],
    "RescaleSlope": ["0", "-1", "1e308", "nan", "inf", "x"],
    "RescaleIntercept": ["1e308", "-1e308", "nan", "x"],
    "PixelSpacing": [[0, 0], [-1, 1], ["nan", 1], [1e308, 1], [1]],
    "ImagePositionPatient": [[0, 0], ["nan", 0, 0], [1e308, 0, 0]],
    "ImageOrientationPatient": [[0, 0, 0, 0, 0, 0], [1, 0, 0, 1, 0, 0], [1, 0, 0]],
    "WindowWidth": ["0", "-1", "nan", "1e308"],
}


def _dicom_attribute(path: Path, rng: random.Random) -> str:
    import pydicom
    from pydicom import config

    keyword = rng.choice(list(_DICOM_VALUES))
    value = rng.choice(_DICOM_VALUES[keyword])
    previous = config.settings.writing_validation_mode
    config.settings.writing_validation_mode = config.IGNORE
    logger, level = logging.getLogger("pydicom"), logging.getLogger("pydicom").level
    logger.setLevel(logging.ERROR)  # pydicom logs each invalid value it is made to write
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # invalid values are the point
            dataset = pydicom.dcmread(path, force=True)
            if keyword not in dataset and keyword in ("PixelSpacing", "ImageOrientationPatient"):
                keyword, value = "Rows", rng.choice(_DICOM_VALUES["Rows"])
            setattr(dataset, keyword, value)
            dataset.save_as(path)
    except Exception as error:  # a value pydicom cannot write: the case stays the valid seed
        return f"{keyword}={value!r} not written ({type(error).__name__})"
    finally:
        config.settings.writing_validation_mode = previous
        logger.setLevel(level)
    return f"{keyword}={value!r}"


_TEXT_KEYS = (
    b"sizes",
    b"dimension",
    b"type",
    b"encoding",
    b"endian",
    b"space directions",
    b"space origin",
    b"NDims",
    b"DimSize",
    b"ElementType",
    b"ElementSpacing",
    b"ElementDataFile",
    b"CompressedData",
    b"CompressedDataSize",
    b"BinaryDataByteOrderMSB",
    b"HeaderSize",
    b"ElementNumberOfChannels",
    b"TransformMatrix",
    b"Offset",
)
_TEXT_VALUES = [
    b"0",
    b"-1",
    b"1",
    b"2147483647",
    b"4294967296",
    b"200000",
    b"nan",
    b"1e400",
    b"x",
    b"",
    b"10 20",
    b"0 0 0",
    b"-5 5 5",
    b"200000 200000 200000",
    b"4 5 6 7 8",
    b"missing.raw",
    b"gzip",
    b"raw",
    b"MET_FLOAT",
    b"MET_UCHAR",
    b"double",
    b"True",
    b"False",
]


def _text_field(data: bytearray, rng: random.Random) -> str:
    present = [key for key in _TEXT_KEYS if _header_line(data, key) is not None]
    if not present:
        return "no text field"
    key = rng.choice(present)
    start, end = _header_line(data, key)
    value = rng.choice(_TEXT_VALUES)
    line = bytes(data[start:end])
    separator = b": " if b": " in line else b" = "
    head = line.split(separator.strip(), 1)[0].rstrip()
    data[start:end] = head + separator + value
    return f"{key.decode()} -> {value.decode()!r}"


def _header_line(data: bytearray, key: bytes) -> tuple[int, int] | None:
    """Start and end (before the newline) of the header line that begins with ``key``."""
    for prefix in (b"\n", b""):
        at = data.find(prefix + key + b":") if prefix else (0 if data.startswith(key) else -1)
        if at < 0:
            at = data.find(prefix + key + b" =")
        if at >= 0:
            at += len(prefix)
            end = data.find(b"\n", at)
            return at, end if end >= 0 else len(data)
    return None


def _mutate_raw(raw: Path, rng: random.Random) -> str:
    choice = rng.randrange(3)
    if choice == 0:
        raw.unlink()
        return "data file removed"
    data = raw.read_bytes()
    cut = rng.randrange(len(data))
    raw.write_bytes(data[:cut] if choice == 1 else data + data[:cut])
    return f"data file {'cut' if choice == 1 else 'grown'} at {cut}"


def seeded_cases(folder: Path, count: int, seed: int = 0) -> list[Case]:
    """Seeds under ``folder/seeds`` and ``count`` mutations of them under ``folder/cases``."""
    return mutate(build_seeds(folder / "seeds"), count, folder / "cases", seed)
