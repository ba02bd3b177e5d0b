"""Damaged DICOM files are refused with a ScanError naming the file and the problem, never shown as
garbage: pixel data of the wrong length or cut off, damaged compressed streams, and headers whose
pixel description cannot be true. Each test builds its own damaged file."""

from __future__ import annotations

import re
import struct
from pathlib import Path

import imagecodecs
import numpy as np
import pydicom
import pytest
from fuzz_seeds import shipped
from io_scan_files import phantom, write_slice
from pydicom.encaps import encapsulate
from pydicom.pixels import pack_bits
from pydicom.uid import JPEGLosslessSV1, RLELossless

from medview.io import ScanError, open_scan
from medview.io.dicom_series import find_series

# --- DICOM pixel data against Rows x Columns x frames x samples x bytes -------------------------


def test_pixel_data_longer_than_rows_by_columns_is_refused_not_shown_striped(tmp_path):
    wider = np.arange(100, dtype=np.int16).reshape(10, 10)
    path = write_slice(tmp_path / "striped.dcm", wider, (0, 0, 0), Rows=8, Columns=10)

    with pytest.raises(ScanError) as refused:
        open_scan(path)

    assert str(refused.value) == (
        f"{path}: pixel data is 200 bytes but Rows x Columns (8x10) needs 160 (16 bits per sample)"
    )


def test_zero_bytes_after_the_image_are_padding_not_damage(tmp_path):
    # pydicom's MR_small_padded.dcm: 64x64x16 bits (8192 bytes) followed by 128 zero bytes.
    padded = open_scan(shipped("MR_small_padded.dcm"))
    plain = open_scan(shipped("MR_small.dcm"))
    np.testing.assert_array_equal(padded.array, plain.array)

    pixels = np.arange(80, dtype=np.int16).reshape(8, 10)
    data = pixels.tobytes() + bytes(20)
    path = write_slice(tmp_path / "padded.dcm", pixels, (0, 0, 0), PixelData=data)
    np.testing.assert_array_equal(open_scan(path).array, pixels[np.newaxis])  # a one-slice volume
    # A whole frame more is no padding: the header's size is wrong.
    path = write_slice(tmp_path / "frame.dcm", pixels, (0, 0, 0), PixelData=pixels.tobytes() + bytes(160))
    with pytest.raises(ScanError, match="pixel data is 320 bytes but Rows x Columns"):
        open_scan(path)


def _cine(path: Path, frames: int, stored_frames: int, **attributes) -> Path:
    pixels = phantom((stored_frames, 4, 5)).astype(np.uint16)
    return write_slice(path, pixels[0], None, orientation=None, Modality="US", NumberOfFrames=frames,
                       PixelData=pixels.tobytes(), **attributes)  # fmt: skip


def _rgb(path: Path, data: bytes) -> Path:
    return write_slice(path, np.zeros((3, 4), np.uint8), None, orientation=None, Modality="XC",
                       SamplesPerPixel=3, PhotometricInterpretation="RGB", PlanarConfiguration=0,
                       PixelData=data)  # fmt: skip


def _one_bit(path: Path, data: bytes) -> Path:
    attributes = {"BitsAllocated": 1, "BitsStored": 1, "HighBit": 0, "NumberOfFrames": 3}
    return write_slice(path, np.zeros((5, 7), np.uint8), None, orientation=None, PixelData=data, **attributes)


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda p: _cine(p, 3, 2), "pixel data is 80 bytes but Rows x Columns x frames (4x5x3) needs 120"),
        (lambda p: _cine(p, 2, 3), "pixel data is 120 bytes but Rows x Columns x frames (4x5x2) needs 80"),
        (
            lambda p: _rgb(p, bytes(12)),
            "pixel data is 12 bytes but Rows x Columns x samples (3x4x3) needs 36",
        ),
        (
            lambda p: _one_bit(p, bytes(12)),
            "pixel data is 12 bytes but Rows x Columns x frames (5x7x3) needs 14",
        ),
        (
            lambda p: write_slice(p, np.zeros((4, 4), np.int16), (0, 0, 0), PixelData=b""),
            "pixel data is 0 bytes but Rows x Columns (4x4) needs 32",
        ),
    ],
    ids=["frames-missing", "frames-extra", "samples-missing", "one-bit-short", "empty"],
)
def test_pixel_data_of_the_wrong_length_names_both_sizes(tmp_path, make, message):
    path = make(tmp_path / "wrong.dcm")
    with pytest.raises(ScanError, match=re.escape(f"wrong.dcm: {message}")):
        open_scan(path)


def test_the_padding_byte_of_odd_length_pixel_data_is_fine(tmp_path):
    pixels = np.arange(15, dtype=np.uint8).reshape(3, 5)
    path = write_slice(tmp_path / "odd.dcm", pixels, (0, 0, 0))
    assert len(pydicom.dcmread(path).PixelData) == 16  # 15 bytes padded to even

    np.testing.assert_array_equal(open_scan(path).array[0], pixels)


def test_one_bit_frames_packed_across_frame_boundaries_open(tmp_path):
    bits = (np.arange(3 * 5 * 7).reshape(3, 5, 7) % 3 == 0).astype(np.uint8)
    path = _one_bit(tmp_path / "bits.dcm", pack_bits(bits))  # 105 bits: 14 bytes, no padding per frame

    scan = open_scan(path)

    assert scan.has_time_axis and scan.array.shape == (3, 5, 7)
    np.testing.assert_array_equal(scan.array, bits)


def test_a_file_cut_inside_its_pixel_data_is_refused(tmp_path):
    path = write_slice(tmp_path / "cut.dcm", np.ones((64, 64), np.int16), (0, 0, 0))
    path.write_bytes(path.read_bytes()[:-1000])
    with pytest.raises(
        ScanError, match="cut.dcm: the file is truncated: pixel data should be 8192 bytes but "
    ):
        open_scan(path)


def test_a_2d_image_is_rescaled_as_one_slice(tmp_path):
    stored = np.arange(20, dtype=np.uint16).reshape(4, 5)
    path = write_slice(tmp_path / "dx.dcm", stored, None, orientation=None, Modality="DX",
                       RescaleIntercept=-100, RescaleSlope=2)  # fmt: skip

    scan = open_scan(path)  # each row was rescaled as if it were a slice (IndexError)

    np.testing.assert_array_equal(scan.array, stored.astype(np.int16) * 2 - 100)


# --- compressed DICOM pixel data --------------------------------------------------------------


def _fragments(path: Path) -> list[tuple[int, int]]:
    """(offset, length) of each fragment of a file's encapsulated pixel data."""
    offset = find_series(path)[0].spans[0].offset
    data, fragments = path.read_bytes(), []
    while struct.unpack_from("<HH", data, offset) == (0xFFFE, 0xE000):
        (length,) = struct.unpack_from("<I", data, offset + 4)
        fragments.append((offset + 8, length))
        offset += 8 + length
    return fragments[1:]


@pytest.mark.parametrize(
    "name",
    [
        "JPEG2000.dcm",
        "SC_rgb_rle.dcm",
        "MR_small_jpeg_ls_lossless.dcm",
        "SC_rgb_jpeg_dcmtk.dcm",
        "SC_rgb_rle_2frame.dcm",
    ],  # fmt: skip
)
def test_a_compressed_file_cut_inside_a_fragment_is_refused(tmp_path, name):
    source = Path(shipped(name))
    start, length = _fragments(source)[-1]
    path = tmp_path / name
    path.write_bytes(source.read_bytes()[: start + length // 2])

    with pytest.raises(
        ScanError, match=rf"{name}: the compressed pixel data is cut off: fragment \d+ should be"
    ):
        open_scan(path)


def test_compressed_pixel_data_without_its_end_of_sequence_marker_is_refused(tmp_path):
    source = Path(shipped("SC_rgb_rle.dcm"))
    (tmp_path / "open.dcm").write_bytes(source.read_bytes()[:-8])  # the last 8 bytes are the delimiter
    with pytest.raises(ScanError, match="the file ends before its end-of-sequence marker"):
        open_scan(tmp_path / "open.dcm")


def _jpeg_lossless(path: Path, cut: int = 0) -> Path:
    plane = phantom((1, 16, 16))[0].astype(np.uint16)
    write_slice(path, plane, (0.0, 0.0, 0.0))
    dataset = pydicom.dcmread(path)
    stream = imagecodecs.jpeg8_encode(plane, lossless=True, bitspersample=16)
    dataset.PixelData = encapsulate([stream[: len(stream) - cut]])
    dataset.file_meta.TransferSyntaxUID = JPEGLosslessSV1
    dataset.PixelRepresentation = 0
    dataset.save_as(path)
    return path


def test_a_jpeg_codestream_cut_inside_an_intact_fragment_is_refused(tmp_path):
    assert open_scan(_jpeg_lossless(tmp_path / "whole.dcm")).array.shape == (1, 16, 16)
    with pytest.raises(
        ScanError, match="cut.dcm: the compressed pixel data is cut off: the compressed image "
    ):
        open_scan(_jpeg_lossless(tmp_path / "cut.dcm", cut=40))


def test_a_jpeg_2000_codestream_cut_inside_an_intact_fragment_is_refused(tmp_path):
    source = Path(shipped("MR_small_jp2klossless.dcm"))
    (start, length), dataset = _fragments(source)[0], pydicom.dcmread(source)
    codestream = source.read_bytes()[start : start + length]
    dataset.PixelData = encapsulate([codestream[: length // 2]])
    dataset.save_as(tmp_path / "j2k.dcm")
    with pytest.raises(ScanError, match="j2k.dcm: the compressed pixel data is cut off"):
        open_scan(tmp_path / "j2k.dcm")


def test_more_frames_than_compressed_fragments_is_refused(tmp_path):
    dataset = pydicom.dcmread(shipped("SC_rgb_rle_2frame.dcm"))
    dataset.NumberOfFrames = 3
    dataset.save_as(tmp_path / "frames.dcm")
    with pytest.raises(
        ScanError, match="NumberOfFrames is 3 but the compressed pixel data holds 2 fragments"
    ):
        open_scan(tmp_path / "frames.dcm")


@pytest.mark.parametrize(
    ("name", "rows", "syntax"),
    [
        ("MR_small_jpeg_ls_lossless.dcm", 32, "JPEG-LS Lossless"),
        ("MR_small_jp2klossless.dcm", 32, "JPEG 2000"),
        ("MR_small_jpeg_ls_lossless.dcm", 128, "JPEG-LS Lossless"),
        ("MR_small_RLE.dcm", 32, "RLE Lossless"),  # pylibjpeg-rle panics (a BaseException)
    ],
)
def test_a_compressed_frame_that_decodes_to_another_size_is_refused(tmp_path, name, rows, syntax):
    dataset = pydicom.dcmread(shipped(name))
    dataset.Rows = rows
    dataset.save_as(tmp_path / name)
    with pytest.raises(ScanError, match=rf"{name}: the pixel data cannot be decoded \({syntax}"):
        open_scan(tmp_path / name)


def test_a_damaged_rle_segment_is_refused(tmp_path):
    data = bytearray(Path(shipped("SC_rgb_rle.dcm")).read_bytes())
    data[-200:-150] = bytes(50)
    (tmp_path / "rle.dcm").write_bytes(bytes(data))
    with pytest.raises(ScanError, match=r"rle.dcm: the pixel data cannot be decoded \(RLE Lossless\)"):
        open_scan(tmp_path / "rle.dcm")


def test_compressed_frames_too_large_for_memory_are_refused_before_decoding(tmp_path):
    path = write_slice(tmp_path / "huge.dcm", np.zeros((2, 2), np.uint16), None, orientation=None)
    dataset = pydicom.dcmread(path)
    dataset.Rows = dataset.Columns = 65535
    dataset.NumberOfFrames = 2000  # 16 TiB decoded (twice: decoded, then sorted), from 2000 fragments
    dataset.PixelData = encapsulate([bytes(64)] * 2000)
    dataset.file_meta.TransferSyntaxUID = RLELossless
    dataset.save_as(path)

    with pytest.raises(ScanError, match=r"huge.dcm: the image needs 31999\.\d GiB but only .* GiB of memory"):
        open_scan(path)


# --- DICOM headers ------------------------------------------------------------------------------


def _without_transfer_syntax(path: Path) -> None:
    dataset = pydicom.dcmread(path)
    del dataset.file_meta.TransferSyntaxUID
    dataset.save_as(path, implicit_vr=False, little_endian=True)


def _with(**attributes):
    def change(path: Path) -> None:
        dataset = pydicom.dcmread(path)
        for keyword, value in attributes.items():
            setattr(dataset, keyword, value)
        dataset.save_as(path)

    return change


def _without(keyword: str):
    def change(path: Path) -> None:
        dataset = pydicom.dcmread(path)
        delattr(dataset, keyword)
        dataset.save_as(path)

    return change


def _damaged_value_representation(path: Path) -> None:
    data = bytearray(path.read_bytes())
    at = data.index(b"\x28\x00\x00\x01US")  # BitsAllocated
    data[at + 4 : at + 6] = b"\x55\xff"
    path.write_bytes(bytes(data))


@pytest.mark.parametrize(
    ("damage", "message"),
    [
        (_without_transfer_syntax, "the DICOM file has no TransferSyntaxUID"),
        (_without("BitsStored"), "the DICOM header has no BitsStored"),
        (_with(BitsAllocated=12), "BitsAllocated is 12; a DICOM image has 1, 8, 16, 32 or 64"),
        (_with(SamplesPerPixel=2), "SamplesPerPixel is 2; medview reads 1 \\(grey\\) or 3 \\(colour\\)"),
        (_with(NumberOfFrames="0"), "NumberOfFrames is 0; an image has at least one frame"),
        (_with(BitsStored=17), "BitsStored is 17 but BitsAllocated is 16"),
        (_damaged_value_representation, "the DICOM header cannot be read \\(Unknown Value Representation"),
    ],
    ids=["no-transfer-syntax", "no-bits-stored", "bits-12", "samples-2", "frames-0", "stored-17", "bad-vr"],
)
def test_a_pixel_description_that_cannot_be_true_is_refused(tmp_path, damage, message):
    path = write_slice(tmp_path / "bad.dcm", np.zeros((4, 5), np.int16), (0, 0, 0))
    damage(path)
    with pytest.raises(ScanError, match=f"bad.dcm: {message}"):
        open_scan(path)


def test_library_errors_in_a_damaged_header_become_scan_errors(tmp_path):
    path = write_slice(tmp_path / "position.dcm", np.zeros((4, 5), np.int16), (0, 0, 0))
    data = bytearray(path.read_bytes())
    at = data.index(b"\x20\x00\x32\x00DS") + 8  # ImagePositionPatient's value
    data[at : at + 3] = b"0.\xa3"
    path.write_bytes(bytes(data))

    with pytest.raises(ScanError, match=r"position.dcm: cannot be read \(ValueError: could not convert"):
        open_scan(path)
