"""Damaged files are refused with a ScanError naming the file and the problem, never shown as garbage.

Each test builds its own damaged file: pictures whose sizes cannot fit in memory, slide tiles that
fail to decode, NIfTI/NRRD/MetaImage headers that disagree with themselves, and the one line the CLI
prints for them (DICOM: ``test_damaged_dicom.py``).
"""

from __future__ import annotations

import gzip
import struct
import threading
import zlib
from pathlib import Path

import dask
import imageio.v3 as iio
import numpy as np
import pytest
import SimpleITK as sitk
import tifffile
from fuzz_seeds import nifti2_bytes, write_slide
from io_scan_files import phantom, write_slice

from medview.cli.main import main
from medview.io import ScanError, open_scan
from medview.io.slide import open_slide
from medview.io.tile_errors import TileErrors, missing_tile
from medview.render import MAX_SIDE, render_slice

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
