"""NIfTI, NRRD and MHA: geometry round trips against SimpleITK, 4D files, and files that lie."""

from __future__ import annotations

import gzip
import struct

import numpy as np
import pytest
import SimpleITK as sitk
from io_scan_files import OBLIQUE, oblique_scan, phantom

from medview.io import ScanError, open_scan, write_scan
from medview.io.sitk_convert import geometry_from_sitk


@pytest.mark.parametrize("suffix", [".nii.gz", ".nii", ".nrrd", ".mha"])
def test_round_trip_keeps_oblique_anisotropic_geometry(tmp_path, suffix):
    original = oblique_scan()
    path = write_scan(original, tmp_path / f"phantom{suffix}")

    scan = open_scan(path)

    reference = sitk.ReadImage(str(path))
    assert scan.geometry.matches(geometry_from_sitk(reference), atol_mm=1e-9)
    assert scan.geometry.matches(original.geometry, atol_mm=1e-4)  # NIfTI stores float32
    np.testing.assert_array_equal(scan.array, original.array)
    assert scan.array.shape == (6, 9, 11) and scan.name == "phantom"


def test_dicom_series_written_to_nifti_keeps_its_geometry(dicom_series, tmp_path):
    dicom = open_scan(dicom_series(phantom((5, 7, 6)), orientation=OBLIQUE, slice_spacing=1.7))
    again = open_scan(write_scan(dicom, tmp_path / "from_dicom.nii.gz"))
    assert again.geometry.matches(dicom.geometry, atol_mm=1e-4)
    np.testing.assert_array_equal(again.array, dicom.array)


def test_a_4d_file_opens_with_a_time_axis(tmp_path):
    frames = [sitk.GetImageFromArray(phantom((3, 4, 5), seed=t)) for t in range(2)]
    image = sitk.JoinSeries(frames)
    image.SetSpacing((0.5, 0.6, 2.0, 1.5))
    image.SetOrigin((1.0, 2.0, 3.0, 0.0))
    sitk.WriteImage(image, str(tmp_path / "cine.nii.gz"))

    scan = open_scan(tmp_path / "cine.nii.gz")

    assert scan.has_time_axis and scan.array.shape == (2, 3, 4, 5)
    assert scan.spatial_shape == (3, 4, 5)
    assert scan.spacing == pytest.approx((2.0, 0.6, 0.5))
    assert scan.geometry.origin == pytest.approx((3.0, 2.0, 1.0))


def _nifti(tmp_path, shape=(4, 5, 6)):
    path = tmp_path / "scan.nii"
    sitk.WriteImage(sitk.GetImageFromArray(phantom(shape)), str(path))
    return path


def test_a_truncated_nifti_is_refused_not_zero_filled(tmp_path):
    path = _nifti(tmp_path)
    path.write_bytes(path.read_bytes()[:-40])
    with pytest.raises(ScanError, match="scan.nii: the file is truncated: the header promises 240 bytes"):
        open_scan(path)


def test_a_corrupt_nifti_header_is_refused(tmp_path):
    path = _nifti(tmp_path)
    data = bytearray(path.read_bytes())
    data[0:4] = b"\x07\x00\x00\x00"  # sizeof_hdr must be 348
    data[344:348] = b"xxxx"  # and the magic n+1
    path.write_bytes(bytes(data))
    with pytest.raises(ScanError, match="scan.nii: the image header cannot be read"):
        open_scan(path)


def test_a_header_claiming_more_voxels_than_memory_holds_is_refused(tmp_path):
    path = _nifti(tmp_path)
    data = bytearray(path.read_bytes())
    data[40:56] = struct.pack("<8h", 3, 30000, 30000, 30000, 1, 1, 1, 1)
    path.write_bytes(bytes(data))
    with pytest.raises(ScanError, match="30000x30000x30000 voxels .* more than the .* GiB of memory free"):
        open_scan(path)


@pytest.mark.parametrize(
    ("name", "content", "message"),
    [
        ("empty.nii.gz", b"", "empty.nii.gz: the file is empty"),
        (
            "cut.nii.gz",
            gzip.compress(b"\x5c\x01" + b"\0" * 100),
            "cut.nii.gz: the image header cannot be read",
        ),
        ("notes.txt", b"these are notes, not an image", "notes.txt: not an image medview can open"),
        ("fake.nrrd", b"hello world\n", "fake.nrrd: the image header cannot be read"),
    ],
)
def test_files_that_are_not_images(tmp_path, name, content, message):
    (tmp_path / name).write_bytes(content)
    with pytest.raises(ScanError, match=message):
        open_scan(tmp_path / name)


def test_a_missing_path_is_named(tmp_path):
    with pytest.raises(ScanError, match="nowhere.nii: no such file or folder"):
        open_scan(tmp_path / "nowhere.nii")


@pytest.mark.parametrize("suffix", [".nii.gz", ".nrrd", ".mha"])
def test_truncated_voxel_data_is_refused_in_every_format(tmp_path, suffix):
    path = tmp_path / f"cut{suffix}"
    sitk.WriteImage(sitk.GetImageFromArray(phantom((20, 30, 40))), str(path), useCompression=suffix != ".mha")
    path.write_bytes(path.read_bytes()[: path.stat().st_size * 2 // 3])
    with pytest.raises(ScanError, match=f"cut{suffix}: .*truncated"):
        open_scan(path)
