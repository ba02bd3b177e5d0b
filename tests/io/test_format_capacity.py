"""Every writer refuses, before writing anything, data its format cannot hold, in one line that names
the file and what to write instead; what it accepts reads back exactly."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
import pydicom
import pytest
import SimpleITK as sitk
import tifffile
from io_scan_files import oblique_scan
from PIL import Image

from medview.core.errors import InputError
from medview.core.geometry import Geometry
from medview.core.scan import LabelMap, Scan
from medview.io import open_scan, write_boxes, write_label_map, write_scan
from medview.io.format_capacity import check_suffix, check_writable
from medview.io.sitk_convert import geometry_from_sitk

LABEL_MAP_SUFFIXES = ".nii.gz, .nii, .nrrd, .mha, .png, .tif or .tiff"


def label_map(array: np.ndarray) -> LabelMap:
    return LabelMap(array, Geometry.identity(array.ndim))


def grey(array: np.ndarray, **kwargs) -> Scan:
    return Scan(array, Geometry.identity(2), **kwargs)


CT_LABELS = label_map(np.zeros((189, 233, 197), np.uint8))
RGB = np.random.default_rng(1).integers(0, 256, (6, 7, 3), dtype=np.uint8)
WIDE = np.array([[-5, 0], [7, 40000]], np.int32)

REFUSED: dict[str, tuple[Callable[[Path], object], str, str]] = {
    "3D label map to PNG": (
        lambda path: write_label_map(CT_LABELS, path),
        "out.png",
        "PNG holds one 2D image (greyscale or RGB); this label map is 3D (197 x 233 x 189, x y z); "
        "write .nii.gz, .nrrd or .mha instead",
    ),
    "3D label map to TIFF": (
        lambda path: write_label_map(CT_LABELS, path),
        "out.tif",
        "TIFF holds one 2D image (greyscale or RGB); this label map is 3D (197 x 233 x 189, x y z); "
        "write .nii.gz, .nrrd or .mha instead",
    ),
    "time series to PNG": (
        lambda path: write_scan(
            Scan(np.zeros((2, 3, 4, 5), np.int16), Geometry.identity(3), has_time_axis=True), path
        ),
        "cine.png",
        "PNG holds one 2D image (greyscale or RGB); this scan is a 3D time series of 2 (5 x 4 x 3, x y z); "
        "write .nii.gz, .nrrd or .mha instead",
    ),
    "negative label to PNG": (
        lambda path: write_label_map(label_map(np.array([[-1, 0], [2, 3]], np.int16)), path),
        "signed.png",
        "PNG holds 8- or 16-bit unsigned integers (0 to 65535); this label map holds values from -1 to 3, "
        "which would change; write .nii.gz, .nrrd, .mha or .tif instead",
    ),
    "label above 65535 to PNG": (
        lambda path: write_label_map(label_map(np.array([[0, 70000]], np.int32)), path),
        "many.png",
        "PNG holds 8- or 16-bit unsigned integers (0 to 65535); this label map holds values from 0 to "
        "70000, which would change; write .nii.gz, .nrrd, .mha or .tif instead",
    ),
    "float scan to PNG": (
        lambda path: write_scan(grey(np.linspace(-1000, 400, 12, dtype=np.float32).reshape(3, 4)), path),
        "ct.png",
        "PNG holds 8- or 16-bit unsigned integers (0 to 65535); this scan holds float32 values, which "
        "would be rounded; write .nii.gz, .nrrd, .mha or .tif instead",
    ),
    "float64 scan to TIFF": (
        lambda path: write_scan(grey(np.zeros((3, 4))), path),
        "ct.tif",
        "TIFF holds integers of up to 32 bits and 32-bit floats; this scan holds float64 values, which "
        "would be rounded; write .nii.gz, .nrrd or .mha instead",
    ),
    "values beyond 16 bits to DICOM": (
        lambda path: write_scan(grey(WIDE, modality="DX"), path),
        "xray.dcm",
        "DICOM image holds 16-bit integers (-32768 to 32767, or 0 to 65535); this scan holds values "
        "from -5 to 40000, which would change; write .nii.gz, .nrrd, .mha or .tif instead",
    ),
    "RGB to DICOM": (
        lambda path: write_scan(Scan(RGB, Geometry.identity(2), rgb=True), path),
        "photo.dcm",
        "DICOM image holds one 2D greyscale image; this scan is RGB; "
        "write .nii.gz, .nrrd, .mha, .png or .tif instead",
    ),
    "unknown suffix": (
        lambda path: write_label_map(CT_LABELS, path),
        "out.lbl",
        f"cannot tell the format from the name; write a label map as {LABEL_MAP_SUFFIXES}",
    ),
    "no suffix": (
        lambda path: write_scan(grey(RGB[..., 0]), path),
        "out",
        "cannot tell the format from the name; write a scan as .nii.gz, .nii, .nrrd, .mha, .png, .tif, "
        ".tiff or .dcm",
    ),
    "JPEG": (
        lambda path: write_label_map(label_map(np.eye(3, dtype=np.uint8)), path),
        "mask.jpg",
        f"JPEG compression changes pixel values; write a label map as {LABEL_MAP_SUFFIXES}",
    ),
    "MetaImage with a separate data file": (
        lambda path: write_label_map(CT_LABELS, path),
        "out.mhd",
        "a .mhd header keeps its voxels in a second file, which cannot be written atomically (.mha is the "
        f"same format in one file); write a label map as {LABEL_MAP_SUFFIXES}",
    ),
    "label map to DICOM": (
        lambda path: write_label_map(label_map(np.eye(3, dtype=np.uint8)), path),
        "mask.dcm",
        f"DICOM image holds scans, not label maps; write a label map as {LABEL_MAP_SUFFIXES}",
    ),
    "boxes to NIfTI": (
        lambda path: write_boxes([], path),
        "boxes.nii.gz",
        "NIfTI holds scans and label maps, not boxes; write boxes as .json",
    ),
}


@pytest.mark.parametrize("case", REFUSED, ids=list(REFUSED))
def test_data_the_format_cannot_hold_is_refused_in_one_line_and_nothing_is_written(tmp_path, case):
    write, name, message = REFUSED[case]
    path = tmp_path / name
    with pytest.raises(InputError) as refused:
        write(path)
    assert str(refused.value) == f"{path}: {message}"
    assert refused.value.path == path
    assert list(tmp_path.iterdir()) == []


def test_a_2d_uint8_scan_goes_to_png_unchanged(tmp_path):
    pixels = np.random.default_rng(0).integers(0, 256, (9, 13), dtype=np.uint8)
    path = write_scan(grey(pixels), tmp_path / "xray.png")
    read = sitk.GetArrayFromImage(sitk.ReadImage(str(path)))
    assert read.dtype == np.uint8
    np.testing.assert_array_equal(read, pixels)


@pytest.mark.parametrize("dtype", [np.uint16, np.int32, np.int64])
def test_label_300_goes_to_a_16_bit_png_whatever_integer_type_holds_it(tmp_path, dtype):
    array = np.zeros((5, 6), dtype)
    array[1:3, 2:4] = 300
    array[4, 5] = 7
    path = write_label_map(label_map(array), tmp_path / "organs.png")
    with Image.open(path) as image:
        read = np.asarray(image)
    assert read.max() == 300
    np.testing.assert_array_equal(read, array)
    assert (tmp_path / "organs.labels.json").exists()


def test_an_rgb_image_goes_to_png_unchanged(tmp_path):
    path = write_scan(Scan(RGB, Geometry.identity(2), rgb=True), tmp_path / "photo.png")
    with Image.open(path) as image:
        assert image.mode == "RGB"
        np.testing.assert_array_equal(np.asarray(image), RGB)


def test_a_3d_scan_goes_to_nifti_with_its_geometry(tmp_path):
    scan = oblique_scan()
    path = write_scan(scan, tmp_path / "volume.nii.gz")
    image = sitk.ReadImage(str(path))
    assert image.GetSize() == (11, 9, 6)
    assert geometry_from_sitk(image).matches(scan.geometry, atol_mm=1e-4)
    np.testing.assert_array_equal(sitk.GetArrayFromImage(image), scan.array)


@pytest.mark.parametrize("suffix", [".nii.gz", ".nrrd", ".mha"])
def test_a_3d_time_series_goes_to_a_4d_volume_and_opens_as_one(tmp_path, suffix):
    array = np.arange(2 * 3 * 4 * 5, dtype=np.int16).reshape(2, 3, 4, 5)
    geometry = oblique_scan().geometry
    path = write_scan(Scan(array, geometry, has_time_axis=True), tmp_path / f"cine{suffix}")
    assert sitk.ReadImage(str(path)).GetSize() == (5, 4, 3, 2)
    again = open_scan(path)
    assert again.has_time_axis and again.geometry.matches(geometry, atol_mm=1e-4)
    np.testing.assert_array_equal(again.array, array)


def test_values_simpleitk_cannot_take_are_converted_without_a_loss(tmp_path):
    mask = np.eye(4, 5, dtype=bool)
    path = write_scan(Scan(np.stack([mask, ~mask]), Geometry.identity(3)), tmp_path / "mask.nii.gz")
    np.testing.assert_array_equal(sitk.GetArrayFromImage(sitk.ReadImage(str(path))), np.stack([mask, ~mask]))
    wide = np.array([[0, -70000], [3, 2**31 - 1]], np.int64)
    path = write_label_map(label_map(wide), tmp_path / "wide.tif")
    np.testing.assert_array_equal(tifffile.imread(path), wide)


def test_a_16_bit_radiograph_goes_to_dicom_with_every_value(tmp_path):
    pixels = np.array([[-5, 0], [7, 30000]], np.int32)
    path = write_scan(grey(pixels, modality="DX"), tmp_path / "xray.dcm")
    dataset = pydicom.dcmread(path)
    assert dataset.PixelRepresentation == 1
    np.testing.assert_array_equal(dataset.pixel_array, pixels)


def test_a_refused_write_keeps_the_file_it_would_have_replaced(tmp_path):
    path = write_label_map(label_map(np.eye(3, dtype=np.uint8)), tmp_path / "mask.png")
    before = path.read_bytes(), (tmp_path / "mask.labels.json").read_text()
    with pytest.raises(InputError, match="values from -1 to 1"):
        write_label_map(label_map(-np.eye(3, dtype=np.int8) + np.eye(3, k=1, dtype=np.int8)), path)
    assert (path.read_bytes(), (tmp_path / "mask.labels.json").read_text()) == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["mask.labels.json", "mask.png"]


def test_check_writable_judges_a_description_without_the_data(tmp_path):
    path = tmp_path / "labels.png"
    check_writable(path, kind="label map", ndim=2, dtype="int64", value_range=(0, 300))
    with pytest.raises(InputError, match="this label map holds int64 values; write .nii.gz, .nrrd or .mha"):
        check_writable(path, kind="label map", ndim=2, dtype="int64")
    with pytest.raises(InputError, match=r"this label map is 3D; write \.nii\.gz"):
        check_writable(path, kind="label map", ndim=3, dtype="uint8")
    assert list(tmp_path.iterdir()) == []


def test_check_suffix_names_what_each_kind_can_be_written_as(tmp_path):
    assert check_suffix(tmp_path / "b.JSON", "boxes").name == "JSON"
    with pytest.raises(InputError) as refused:
        check_suffix(tmp_path / "out.txt", "label map", "boxes", "probabilities")
    assert str(refused.value).endswith(
        f"write a label map as {LABEL_MAP_SUFFIXES}, boxes as .json, class probabilities as .json"
    )
