"""DICOM series: discovery, grouping, sorting in space, spacing, rescale, and bad series."""

from __future__ import annotations

import numpy as np
import pytest
import SimpleITK as sitk
from io_scan_files import AXIAL, OBLIQUE, phantom, write_slice

from medview.io import ScanError, list_series, open_scan
from medview.io.sitk_convert import geometry_from_sitk


def _sitk_series(folder) -> sitk.Image:
    reader = sitk.ImageSeriesReader()
    reader.SetFileNames(reader.GetGDCMSeriesFileNames(str(folder)))
    return reader.Execute()


def test_shuffled_oblique_series_matches_simpleitk(dicom_series):
    volume = phantom((7, 12, 10))
    folder = dicom_series(volume, orientation=OBLIQUE, slice_spacing=2.5, origin=(-20.5, 31.25, -100.0))

    scan = open_scan(folder)
    reference = _sitk_series(folder)

    assert scan.array.shape == (7, 12, 10)
    assert scan.geometry.matches(geometry_from_sitk(reference), atol_mm=1e-4)
    np.testing.assert_array_equal(scan.array, sitk.GetArrayFromImage(reference))
    np.testing.assert_array_equal(scan.array, volume)  # sorted by position, not file name
    assert scan.spacing == pytest.approx((2.5, 0.8, 0.6), abs=1e-4)  # not SliceThickness (99)
    assert not scan.geometry.is_axis_aligned
    assert scan.warnings == []


def test_rescale_gives_modality_values_in_the_smallest_exact_dtype(dicom_series):
    stored = phantom((3, 8, 8)).astype(np.uint16)
    scan = open_scan(dicom_series(stored, RescaleSlope=2, RescaleIntercept=-1024))
    assert scan.array.dtype == np.int16
    np.testing.assert_array_equal(scan.array, stored.astype(np.int32) * 2 - 1024)

    fractional = open_scan(dicom_series(stored, RescaleSlope=0.5, RescaleIntercept=1.25))
    assert fractional.array.dtype == np.float32
    np.testing.assert_allclose(fractional.array, stored * 0.5 + 1.25)


def test_several_series_are_listed_and_chosen_by_uid(dicom_series, tmp_path):
    dicom_series(phantom((4, 8, 8)), folder="study/a", series_uid="1.2.3.4")
    dicom_series(phantom((2, 6, 6)), folder="study/b/deeper", series_uid="1.2.3.5")
    (tmp_path / "study/readme.txt").write_text("not DICOM")

    found = list_series(tmp_path / "study")
    assert [(s.uid, s.shape) for s in found] == [("1.2.3.4", (4, 8, 8)), ("1.2.3.5", (2, 6, 6))]
    assert found[0].description == "test series" and found[0].modality == "CT"

    assert open_scan(tmp_path / "study", series_uid="1.2.3.5").array.shape == (2, 6, 6)
    with pytest.raises(ScanError, match="no series 9.9 here; found: 1.2.3.4, 1.2.3.5"):
        open_scan(tmp_path / "study", series_uid="9.9")


def test_a_localizer_in_the_same_series_becomes_its_own_entry(dicom_series):
    folder = dicom_series(phantom((5, 8, 8)), series_uid="1.2.3")
    sagittal = (0.0, 1.0, 0.0, 0.0, 0.0, -1.0)
    write_slice(folder / "scout.dcm", phantom((1, 8, 8))[0], (0.0, 0.0, 0.0), sagittal, series_uid="1.2.3")

    assert [(s.uid, s.shape) for s in list_series(folder)] == [("1.2.3", (5, 8, 8)), ("1.2.3/2", (1, 8, 8))]
    assert open_scan(folder).array.shape == (5, 8, 8)


def test_missing_slice_opens_with_a_visible_warning(dicom_series):
    scan = open_scan(dicom_series(phantom((4, 8, 8)), offsets=[0.0, 2.0, 6.0, 8.0]))
    assert scan.array.shape == (4, 8, 8)
    assert scan.spacing[0] == pytest.approx(2.0)
    assert len(scan.warnings) == 1 and "irregular slice spacing" in scan.warnings[0]


def test_duplicate_slice_positions_are_refused(dicom_series):
    folder = dicom_series(phantom((3, 8, 8)), offsets=[0.0, 2.0, 2.0])
    with pytest.raises(ScanError, match="same position") as caught:
        open_scan(folder)
    assert str(folder) in str(caught.value)


def test_a_slice_of_another_size_is_refused_naming_it(dicom_series):
    folder = dicom_series(phantom((3, 8, 8)))
    odd = write_slice(folder / "odd.dcm", phantom((1, 6, 8))[0], (-20.0, 30.0, -90.0))
    with pytest.raises(ScanError, match=r"this slice is 6x8 pixels but the rest .* is 8x8") as caught:
        open_scan(folder)
    assert str(odd) in str(caught.value)


def test_pixel_data_shorter_than_rows_by_columns_is_refused(tmp_path):
    path = write_slice(tmp_path / "short.dcm", np.zeros((8, 8), np.int16), (0, 0, 0), PixelData=b"\0" * 100)
    with pytest.raises(
        ScanError, match=r"short.dcm: pixel data is 100 bytes but Rows x Columns \(8x8\) needs 128"
    ):
        open_scan(path)


def test_truncated_file_is_refused(tmp_path):
    path = write_slice(tmp_path / "cut.dcm", np.ones((64, 64), np.int16), (0, 0, 0))
    path.write_bytes(path.read_bytes()[:-1000])
    with pytest.raises(ScanError, match="cut.dcm: .*(truncated|pixel data)"):
        open_scan(path)


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"", "empty"),
        (b"\x01\x02" * 500, "not a DICOM file"),
        (b"\0" * 128 + b"DICM" + b"\xff" * 10, "DICOM header cannot be read"),
    ],
    ids=["zero-bytes", "no-header", "garbled-header"],
)
def test_unreadable_dicom_files_name_the_file_and_problem(tmp_path, content, message):
    path = tmp_path / "bad.dcm"
    path.write_bytes(content)
    with pytest.raises(ScanError, match=message) as caught:
        open_scan(path)
    assert str(caught.value).startswith(str(path))


def test_a_dicom_without_pixel_data_is_not_an_image(tmp_path):
    path = write_slice(tmp_path / "header_only.dcm", np.zeros((4, 4), np.int16), (0, 0, 0))
    import pydicom

    ds = pydicom.dcmread(path)
    del ds.PixelData
    ds.save_as(path)
    with pytest.raises(ScanError, match="no image"):
        open_scan(path)


def test_an_empty_folder_says_so(tmp_path):
    (tmp_path / "x.txt").write_text("hello")
    with pytest.raises(ScanError, match="no DICOM files"):
        open_scan(tmp_path)


def test_single_axial_slice_is_a_one_slice_volume_with_the_dicom_window(tmp_path):
    path = write_slice(
        tmp_path / "one.dcm", phantom((1, 6, 5))[0], (1.0, 2.0, 3.0), AXIAL, WindowCenter=50, WindowWidth=350
    )
    scan = open_scan(path)
    assert scan.array.shape == (1, 6, 5)
    assert scan.geometry.origin == pytest.approx((3.0, 2.0, 1.0))  # LPS listed (S, P, L)
    assert (scan.window.center, scan.window.width) == (50.0, 350.0)
    assert scan.metadata["series"][0].shape == (1, 6, 5)


def test_an_empty_dcm_file_in_a_series_folder_is_refused_but_other_files_are_ignored(dicom_series):
    folder = dicom_series(phantom((3, 8, 8)))
    (folder / "DICOMDIR.lock").write_bytes(b"")
    (folder / "notes.txt").write_text("scanned on Monday")
    assert open_scan(folder).array.shape == (3, 8, 8)
    (folder / "IM9999.dcm").write_bytes(b"")
    with pytest.raises(ScanError, match="IM9999.dcm: the file is empty"):
        open_scan(folder)


def test_a_tilted_gantry_series_opens_with_a_warning(tmp_path):
    for index, plane in enumerate(phantom((3, 8, 8))):
        write_slice(tmp_path / f"{index}.dcm", plane, (0.0, 0.5 * index, 2.0 * index))  # 14 degrees tilt
    scan = open_scan(tmp_path)
    assert scan.spacing[0] == pytest.approx(2.0)
    assert scan.warnings == [
        "slice positions are not along the slice normal (gantry tilt?): the volume is shown unsheared"
    ]
