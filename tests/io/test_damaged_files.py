"""Damaged files are refused with a ScanError naming the file and the problem, never shown as garbage.

Each test builds its own damaged file: DICOM pixel data of the wrong length or cut off, headers whose
sizes cannot fit in memory, slide tiles that fail to decode, NIfTI/NRRD/MetaImage headers that
disagree with themselves, and the one line the CLI prints for them.
"""

from __future__ import annotations

import gzip
import re
import struct
import threading
import zlib
from pathlib import Path

import dask
import imagecodecs
import imageio.v3 as iio
import numpy as np
import pydicom
import pytest
import SimpleITK as sitk
import tifffile
from fuzz_cases import nifti2_bytes, shipped, write_slide
from io_scan_files import phantom, write_slice
from pydicom.encaps import encapsulate
from pydicom.pixels import pack_bits
from pydicom.uid import JPEGLosslessSV1, RLELossless

from medview.cli.main import main
from medview.io import ScanError, open_scan
from medview.io.dicom_series import find_series
from medview.io.slide import open_slide
from medview.io.tile_errors import TileErrors, missing_tile
from medview.render import MAX_SIDE, render_slice

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


# --- pictures: sizes that cannot fit, data beyond the end ----------------------------------------


def _patch_tiff_tags(path: Path, **values: int) -> None:
    with tifffile.TiffFile(path) as tiff:
        places = {}
        for name in values:
            tag = tiff.pages[0].tags[name]
            places[name] = (tag.valueoffset, tiff.byteorder + tifffile.TIFF.DATA_FORMATS[tag.dtype][-1])
    data = bytearray(path.read_bytes())
    for name, value in values.items():
        struct.pack_into(places[name][1], data, places[name][0], value)
    path.write_bytes(bytes(data))


def _huge_tiff(path: Path, tiled: bool) -> Path:
    tifffile.imwrite(path, np.zeros((64, 64), np.uint8), tile=(16, 16) if tiled else None)
    _patch_tiff_tags(path, ImageWidth=200000, ImageLength=200000)
    return path


@pytest.mark.parametrize("tiled", [False, True], ids=["strips", "tiles"])
def test_a_tiff_claiming_200000_by_200000_pixels_is_refused_before_allocation(tmp_path, tiled):
    path = _huge_tiff(tmp_path / "huge.tif", tiled)
    with pytest.raises(
        ScanError, match=r"huge.tif: the TIFF header says level 0 of shape \(200000, 200000\) has"
    ):
        open_scan(path)


def test_a_png_claiming_200000_by_200000_pixels_is_refused_before_decoding(tmp_path):
    path = tmp_path / "huge.png"
    iio.imwrite(path, np.zeros((20, 24), np.uint8))
    data = bytearray(path.read_bytes())
    struct.pack_into(">II", data, 16, 200000, 200000)  # IHDR width, height
    struct.pack_into(">I", data, 29, zlib.crc32(bytes(data[12:29])))
    path.write_bytes(bytes(data))

    with pytest.raises(ScanError, match="huge.png: the header claims more pixels than can be decoded"):
        open_scan(path)


def test_tiff_data_beyond_the_end_of_the_file_is_refused(tmp_path):
    path = tmp_path / "cut.tif"
    tifffile.imwrite(path, phantom((2, 32, 40)).astype(np.uint16))
    path.write_bytes(path.read_bytes()[:3000])
    with pytest.raises(
        ScanError, match="cut.tif: the image data is cut off: it should be 5120 bytes from byte "
    ):
        open_scan(path)


def test_a_tiff_with_a_size_of_zero_is_refused(tmp_path):
    path = tmp_path / "empty.tif"
    tifffile.imwrite(path, np.zeros((16, 20), np.uint16))
    _patch_tiff_tags(path, ImageLength=0)  # tifffile divides by it
    with pytest.raises(ScanError, match=r"empty.tif: not a readable image \(ZeroDivisionError"):
        open_scan(path)


def test_a_one_bit_tiff_opens_as_zeros_and_ones(tmp_path):
    bits = np.eye(8, dtype=bool)
    tifffile.imwrite(tmp_path / "bits.tif", bits)
    scan = open_scan(tmp_path / "bits.tif")  # np.percentile of booleans raised TypeError
    assert scan.array.dtype == np.uint8
    np.testing.assert_array_equal(scan.array, bits)


# --- slides: a tile that fails to decode later is a checkerboard, and recorded -------------------


def _slide_with_broken_tile(path: Path, tile: int, size: int = 512) -> np.ndarray:
    """A pyramidal JPEG TIFF (128 px tiles) whose level-0 tile ``tile`` says "Bogus marker length"."""
    base = write_slide(path, size=size, tile=128, levels=3)
    with tifffile.TiffFile(path) as tiff:
        offset = tiff.pages[0].dataoffsets[tile]
    data = bytearray(path.read_bytes())
    data[offset + 2 : offset + 6] = b"\xff\xc0\x00\x01"  # a marker segment of length 1
    path.write_bytes(bytes(data))
    return base


@pytest.mark.parametrize(
    ("backend", "size", "healthy"),
    [
        ("tifffile", 512, (slice(0, 128), slice(384, 512))),  # another tile
        ("openslide", 1280, (slice(1024, 1152), slice(1024, 1152))),  # OpenSlide's 1024-pixel blocks
    ],
)
def test_a_tile_that_fails_to_decode_is_a_checkerboard_and_the_error_is_recorded(
    tmp_path, backend, size, healthy
):
    base = _slide_with_broken_tile(tmp_path / "slide.tif", tile=size // 128 + 1, size=size)  # row 1, column 1
    scan = open_slide(tmp_path / "slide.tif", backend=backend)
    errors = scan.metadata["tile_errors"]
    seen = []
    errors.subscribe(seen.append)

    with dask.config.set(scheduler="threads"):  # as napari's slicing thread reads it
        broken = scan.levels[0][128:256, 128:256].compute()
        again = scan.levels[0][128:256, 128:256].compute()
        good = scan.levels[0][healthy].compute()

    np.testing.assert_array_equal(broken, missing_tile((128, 128, 3), np.uint8))
    np.testing.assert_array_equal(again, broken)
    assert (
        np.abs(good.astype(int) - base[healthy]).max() < 16
    )  # JPEG's loss only, though read after the error
    assert len(errors.errors()) == 1 and seen == errors.errors()
    message = errors.errors()[0]
    assert message.startswith("slide.tif: level 0, tile at row ") and "Bogus marker length" in message


def test_the_missing_tile_checkerboard_reads_as_missing_not_tissue():
    tile = missing_tile((40, 40, 3), np.uint8)
    assert set(np.unique(tile)) == {63, 140}
    assert (tile[0, 0] == 140).all() and (tile[0, 16] == 63).all() and (tile[16, 16] == 140).all()
    assert missing_tile((3, 20, 20), np.uint16, spatial=(1, 2))[:, 0, 16].tolist() == [16383] * 3


def test_a_slide_whose_first_tile_is_broken_is_refused_at_open(tmp_path):
    _slide_with_broken_tile(tmp_path / "slide.tif", tile=0)
    with pytest.raises(
        ScanError, match=r"slide.tif: the first tile cannot be decoded \(Jpeg8Error: Bogus marker"
    ):
        open_scan(tmp_path / "slide.tif")


def test_tile_errors_are_recorded_once_each_from_many_threads():
    errors = TileErrors("slide.tif")
    seen = []
    unsubscribe = errors.subscribe(seen.append)

    threads = [
        threading.Thread(target=lambda: [errors.record(f"tile {i % 50}") for i in range(500)])
        for _ in range(8)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    unsubscribe()
    errors.record("tile 99")

    assert sorted(errors.errors()) == sorted([f"tile {i}" for i in range(50)] + ["tile 99"])
    assert sorted(seen) == sorted(f"tile {i}" for i in range(50))


# --- NIfTI, NRRD, MetaImage headers that disagree with themselves --------------------------------


def _nifti(path: Path, **fields: tuple[int, str, object]) -> Path:
    """A small NIfTI-1; ``fields`` maps a name to (offset, struct format, value) to overwrite."""
    plain = path.parent / "plain.nii"
    sitk.WriteImage(sitk.GetImageFromArray(phantom((4, 5, 6))), str(plain))
    data = bytearray(plain.read_bytes())
    plain.unlink()
    for offset, fmt, value in fields.values():
        struct.pack_into(fmt, data, offset, value)
    path.write_bytes(gzip.compress(bytes(data)) if path.name.endswith(".gz") else bytes(data))
    return path


@pytest.mark.parametrize("suffix", [".nii", ".nii.gz"])
@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"sizeof_hdr": (0, "<i", 7)}, "sizeof_hdr is 7, a NIfTI-1 header says 348"),
        ({"magic": (344, "4s", b"xx1\0")}, "the magic is b'xx1', a NIfTI-1 file says 'n\\+1'"),
        ({"magic": (344, "4s", b"ni1\0")}, "the magic is 'ni1' \\(voxels in a separate .img file\\)"),
        ({"dim": (40, "<h", 0)}, "dim\\[0\\] \\(the number of dimensions\\) is 0; it must be 1 to 7"),
        ({"dim": (40, "<h", 8)}, "dim\\[0\\] \\(the number of dimensions\\) is 8"),
        ({"dim": (44, "<h", 0)}, "dim\\[2\\] is 0: every dimension must be at least 1"),
        ({"dim": (46, "<h", -4)}, "dim\\[3\\] is -4: every dimension must be at least 1"),
        ({"bitpix": (72, "<h", 8)}, "bitpix is 8 but datatype 4 has 16 bits"),
        ({"vox_offset": (108, "<f", 0.0)}, "vox_offset is 0.0: the voxels of a .nii file start at byte 352"),
        ({"pixdim": (80, "<f", float("nan"))}, "pixdim\\[1\\] is nan; the header is damaged"),
        ({"scl_slope": (112, "<f", float("inf"))}, "scl_slope is inf; the header is damaged"),
    ],
    ids=[
        "sizeof-hdr",
        "magic",
        "magic-ni1",
        "dim0-0",
        "dim0-8",
        "dim-zero",
        "dim-negative",
        "bitpix",
        "vox-offset",
        "pixdim-nan",
        "slope-inf",
    ],  # fmt: skip
)
def test_a_nifti_header_that_disagrees_with_itself_is_refused(tmp_path, suffix, fields, message):
    path = _nifti(tmp_path / f"scan{suffix}", **fields)
    with pytest.raises(ScanError, match=f"scan{suffix}: the image header cannot be read: {message}"):
        open_scan(path)


def test_a_nifti_2_file_is_refused_saying_so(tmp_path):
    (tmp_path / "two.nii").write_bytes(nifti2_bytes(phantom((3, 4, 5))))
    with pytest.raises(ScanError, match="two.nii: .*this is a NIfTI-2 file, which medview cannot read"):
        open_scan(tmp_path / "two.nii")


def test_truncated_colour_nifti_voxels_are_refused_not_zero_filled(tmp_path):
    rgb = np.random.default_rng(0).integers(0, 255, (4, 10, 12, 3), dtype=np.uint8)
    sitk.WriteImage(sitk.GetImageFromArray(rgb, isVector=True), str(tmp_path / "rgb.nii"))
    path = tmp_path / "rgb.nii"
    path.write_bytes(path.read_bytes()[: -rgb.size // 2])  # the check counted one byte per voxel
    with pytest.raises(ScanError, match="rgb.nii: the file is truncated: the header promises 1440 bytes"):
        open_scan(path)


def _text_volume(path: Path, old: bytes, new: bytes) -> Path:
    sitk.WriteImage(sitk.GetImageFromArray(phantom((4, 5, 6))), str(path))
    data = path.read_bytes()
    assert old in data
    path.write_bytes(data.replace(old, new, 1))
    return path


@pytest.mark.parametrize(
    ("name", "old", "new", "message"),
    [
        ("scan.nrrd", b"sizes: 6 5 4", b"sizes: 0 5 4", "sizes is '0 5 4': every size must be at least 1"),
        ("scan.nrrd", b"sizes: 6 5 4", b"sizes: -1 5 4", "sizes is '-1 5 4': every size must be at least 1"),
        ("scan.nrrd", b"sizes: 6 5 4", b"sizes: 6 5", "sizes is '6 5'; it must be 3 whole numbers"),
        ("scan.nrrd", b"dimension: 3", b"dimension: 40", "dimension is 40; a NRRD image has 1 to 16"),
        ("scan.nrrd", b"type: short", b"type: shorty", "type 'shorty' is not a NRRD pixel type"),
        (
            "scan.mha",
            b"DimSize = 6 5 4",
            b"DimSize = 0 5 4",
            "DimSize is '0 5 4': every size must be at least 1",
        ),
        ("scan.mha", b"DimSize = 6 5 4", b"DimSize = -1 5 4", "DimSize is '-1 5 4': every size must be at"),
        ("scan.mha", b"NDims = 3", b"NDims = 0", "NDims is 0; a MetaImage has 1 to 10 dimensions"),
        ("scan.mha", b"NDims = 3", b"NDims = 2", "DimSize is '6 5 4'; it must be 2 whole numbers"),
        ("scan.mha", b"ElementType = MET_SHORT", b"ElementType = MET_FOO", "ElementType 'MET_FOO' is not a"),
    ],
)
def test_a_nrrd_or_metaimage_header_that_disagrees_with_itself_is_refused(tmp_path, name, old, new, message):
    path = _text_volume(tmp_path / name, old, new)
    with pytest.raises(ScanError, match=f"{name}: the image header cannot be read: {message}"):
        open_scan(path)


def test_a_zero_voxel_spacing_is_refused(tmp_path):
    sitk.WriteImage(sitk.GetImageFromArray(phantom((4, 5, 6))), str(tmp_path / "flat.mha"))
    data = (tmp_path / "flat.mha").read_bytes()
    start = data.index(b"ElementSpacing = ")
    end = data.index(b"\n", start)
    (tmp_path / "flat.mha").write_bytes(data[:start] + b"ElementSpacing = 0 0 0" + data[end:])
    with pytest.raises(
        ScanError, match=r"flat.mha: the header gives the voxel spacing \(0, 0, 0\); it must be"
    ):
        open_scan(tmp_path / "flat.mha")


def _mhd_pair(folder: Path) -> tuple[Path, Path]:
    """``case.mhd`` and the ``case.raw`` it names."""
    sitk.WriteImage(sitk.GetImageFromArray(phantom((4, 5, 6))), str(folder / "case.mhd"))
    return folder / "case.mhd", folder / "case.raw"


def test_a_metaimage_whose_data_file_is_missing_names_it(tmp_path):
    header, raw = _mhd_pair(tmp_path)
    raw.unlink()
    with pytest.raises(ScanError) as refused:
        open_scan(header)
    assert str(refused.value) == f"{header}: the data file case.raw named by case.mhd is missing"


def test_a_metaimage_whose_data_file_is_cut_is_refused(tmp_path):
    header, raw = _mhd_pair(tmp_path)
    raw.write_bytes(raw.read_bytes()[:100])
    with pytest.raises(ScanError, match="case.mhd: the voxel data cannot be read: the file is truncated"):
        open_scan(header)


def test_a_nrrd_whose_detached_data_file_is_missing_names_it(tmp_path):
    sitk.WriteImage(sitk.GetImageFromArray(phantom((4, 5, 6))), str(tmp_path / "scan.nhdr"))
    data_file = next(path for path in tmp_path.iterdir() if path.suffix != ".nhdr")
    data_file.unlink()
    with pytest.raises(
        ScanError, match=f"scan.nhdr: the data file {data_file.name} named by scan.nhdr is missing"
    ):
        open_scan(tmp_path / "scan.nhdr")


def test_an_absurdly_anisotropic_scan_renders_at_a_bounded_size(tmp_path):
    path = _nifti(tmp_path / "flat.nii", pixdim=(80, "<f", 1e30))
    scan = open_scan(path)  # opens: the spacing is positive and finite
    image = render_slice(scan)  # was: ndimage.zoom to 1e30 pixels
    assert image.shape[2] == 3 and max(image.shape[:2]) <= MAX_SIDE


# --- the command line prints one line and exits 2 -------------------------------------------------


def _striped_dicom(folder: Path) -> tuple[Path, str]:
    image = np.arange(100, dtype=np.int16).reshape(10, 10)  # real pixels past Rows, not zero padding
    path = write_slice(folder / "striped.dcm", image, (0, 0, 0), Rows=8)
    return path, "pixel data is 200 bytes but Rows x Columns (8x10) needs 160 (16 bits per sample)"


def _huge_tiff_case(folder: Path) -> tuple[Path, str]:
    path = _huge_tiff(folder / "huge.tif", tiled=True)
    return (
        path,
        "the TIFF header says level 0 of shape (200000, 200000) has 156250000 tiles but lists 16 offsets",
    )


def _bad_nifti(folder: Path) -> tuple[Path, str]:
    path = _nifti(folder / "scan.nii.gz", sizeof_hdr=(0, "<i", 7))
    return path, "the image header cannot be read: sizeof_hdr is 7, a NIfTI-1 header says 348"


def _missing_raw(folder: Path) -> tuple[Path, str]:
    header, raw = _mhd_pair(folder)
    raw.unlink()
    return header, "the data file case.raw named by case.mhd is missing"


@pytest.mark.parametrize("make", [_striped_dicom, _huge_tiff_case, _bad_nifti, _missing_raw])
def test_medview_info_prints_one_line_naming_the_file_and_exits_2(tmp_path, capsys, make):
    path, problem = make(tmp_path)

    status = main(["info", str(path)])

    out, err = capsys.readouterr()
    assert status == 2 and out == ""
    assert err.startswith(f"medview: error: {path}: {problem}") and err.count("\n") == 1
