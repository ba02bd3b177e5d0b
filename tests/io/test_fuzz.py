"""Fuzzing the readers: damaged copies of valid files open or are refused with a ScanError, never a bug.

Each file is opened in a sandboxed worker (3 GiB address space, 20 s) by ``fuzz_runner``; the
damage is done by ``fuzz_cases``. The default run tries a few hundred files; ``-m slow`` thousands
(as does ``python benchmarks/fuzz_readers.py --count 5000``). The regressions at the end are the
classes of bug the fuzzer found that only a sandbox can catch: a crash, a hang, memory running out.
"""

from __future__ import annotations

import struct
from pathlib import Path

import numpy as np
import pydicom
import pytest
import SimpleITK as sitk
import tifffile
from fuzz_cases import Case, mutate
from fuzz_runner import run_cases
from fuzz_seeds import build_seeds, shipped, write_slide
from io_scan_files import write_slice

from medview.io.dicom_series import find_series

DEFAULT_COUNT = 400
SLOW_COUNT = 3000


@pytest.fixture(scope="module")
def seeds(tmp_path_factory):
    return build_seeds(tmp_path_factory.mktemp("seeds"))


def test_every_seed_opens_and_renders(seeds):
    summary = run_cases(Case(seed.name, "none", seed.root / seed.opens) for seed in seeds)

    outcomes = {result.case.seed: result for result in summary.results}
    assert len(outcomes) == len(seeds) > 20
    nifti2 = outcomes.pop("nifti2")
    assert nifti2.outcome == "refused"
    assert nifti2.detail.endswith(
        "this is a NIfTI-2 file, which medview cannot read (ITK reads NIfTI-1 only)"
    )
    assert {name: result.outcome for name, result in outcomes.items()} == dict.fromkeys(outcomes, "opened")


def test_damaged_files_are_opened_or_refused_never_a_bug(seeds, tmp_path):
    summary = run_cases(mutate(seeds, DEFAULT_COUNT, tmp_path, seed=0))

    print(summary.report())
    counts = summary.counts()
    assert counts["bugs"] == 0, summary.report()
    assert counts["files"] == DEFAULT_COUNT and counts["opened"] > 50 and counts["refused"] > 100


@pytest.mark.slow
def test_thousands_of_damaged_files_are_opened_or_refused_never_a_bug(seeds, tmp_path):
    summary = run_cases(mutate(seeds, SLOW_COUNT, tmp_path, seed=1))

    print(summary.report())
    assert summary.counts()["bugs"] == 0, summary.report()


def test_damage_that_crashed_hung_or_exhausted_the_process_is_refused(tmp_path):
    cases = [
        _metaimage_dims(tmp_path, "200000"),  # ITK's MetaIO crashed (segfault)
        _metaimage_dims(tmp_path, "-1"),
        _rle_that_panics(tmp_path),  # pylibjpeg-rle's Rust panic is a BaseException
        _pixel_data_length(tmp_path, 0xFFFFFFF0),  # pydicom allocated the 4 GiB the length claims
        _header_element_length(tmp_path),  # so did the header parse
        _slide_width(tmp_path, 2**31),  # dask built a graph of 200 million tiles (a hang)
    ]

    summary = run_cases(cases, workers=1)

    assert [(result.case.seed, result.outcome) for result in summary.results] == [
        (case.seed, "refused") for case in cases
    ], summary.report()
    details = [result.detail for result in summary.results]
    assert "NDims is 200000; a MetaImage has 1 to 10 dimensions" in details[0]
    assert "NDims is -1" in details[1]
    assert "the pixel data cannot be decoded (RLE Lossless)" in details[2]
    assert "pixel data is 4294967280 bytes but Rows x Columns x samples (10x12x3) needs 360" in details[3]
    assert "a DICOM header is damaged: an element claims more bytes than memory holds" in details[4]
    assert "level 0 of shape (256, 2147483648, 3) has 33554432 tiles but lists 4 offsets" in details[5]


def _case(tmp_path: Path, name: str) -> Path:
    folder = tmp_path / f"case-{name}"
    folder.mkdir()
    return folder


def _metaimage_dims(tmp_path: Path, dims: str) -> Case:
    folder = _case(tmp_path, f"ndims{dims}")
    path = folder / "scan.mha"
    sitk.WriteImage(sitk.GetImageFromArray(np.zeros((4, 5, 6), np.int16)), str(path))
    path.write_bytes(path.read_bytes().replace(b"NDims = 3", f"NDims = {dims}".encode()))
    return Case(f"mha NDims {dims}", "NDims", path)


def _rle_that_panics(tmp_path: Path) -> Case:
    folder = _case(tmp_path, "rle")
    dataset = pydicom.dcmread(shipped("MR_small_RLE.dcm"))
    dataset.Rows = 32  # the RLE segments decode to more bytes than 32 rows hold
    dataset.save_as(folder / "rle.dcm")
    return Case("rle panic", "Rows 32", folder / "rle.dcm")


def _pixel_data_length(tmp_path: Path, length: int) -> Case:
    folder = _case(tmp_path, "pixel-length")
    rgb = np.zeros((10, 12, 3), np.uint8)  # colour is decoded by pydicom, which reads the length
    path = write_slice(
        folder / "rgb.dcm", rgb[..., 0], None, orientation=None, SamplesPerPixel=3,
        PhotometricInterpretation="RGB", PlanarConfiguration=0, PixelData=rgb.tobytes(),
    )  # fmt: skip
    span = find_series(path)[0].spans[0]
    data = bytearray(path.read_bytes())
    struct.pack_into("<I", data, span.offset - 4, length)
    path.write_bytes(bytes(data))
    return Case("pixel data length", f"{length}", path)


def _header_element_length(tmp_path: Path) -> Case:
    folder = _case(tmp_path, "element-length")
    path = write_slice(folder / "ct.dcm", np.zeros((10, 12), np.int16), (0, 0, 0))
    dataset = pydicom.dcmread(path)
    dataset.add_new(0x00091010, "OB", b"\x01\x02\x03\x04")  # a private element before the pixels
    dataset.private_block(0x0009, "medview fuzz", create=True)
    dataset.save_as(path)
    data = bytearray(path.read_bytes())
    tag = data.index(b"\x09\x00\x10\x10OB")
    struct.pack_into("<I", data, tag + 8, 0xFFFFFFF0)
    path.write_bytes(bytes(data))
    return Case("header element length", "4 GiB", path)


def _slide_width(tmp_path: Path, width: int) -> Case:
    folder = _case(tmp_path, "slide-width")
    path = folder / "slide.tif"
    write_slide(path, size=256, tile=128, levels=2)
    with tifffile.TiffFile(path) as tiff:
        tag = tiff.pages[0].tags["ImageWidth"]
        offset, fmt = tag.valueoffset, tiff.byteorder + tifffile.TIFF.DATA_FORMATS[tag.dtype][-1]
    data = bytearray(path.read_bytes())
    struct.pack_into(fmt, data, offset, width)
    path.write_bytes(bytes(data))
    return Case("slide width", f"ImageWidth {width}", path)
