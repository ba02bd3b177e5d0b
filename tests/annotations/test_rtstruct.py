import numpy as np
import pytest
from dicom_files import write_ct_series
from pydicom import dcmread

from medview.annotations.nifti import AnnotationMismatchError
from medview.annotations.rtstruct import read_rtstruct, write_rtstruct
from medview.annotations.seg import source_datasets
from medview.core.labels import LabelClass, LabelTable
from medview.core.provenance import Provenance
from medview.core.scan import LabelMap
from medview.io.open import open_scan


@pytest.fixture
def dicom_scan(tmp_path):
    return open_scan(write_ct_series(tmp_path / "ct", np.zeros((5, 24, 30), dtype=np.int16)))


def test_rtstruct_contours_round_trip_with_names_colours_and_holes(tmp_path, dicom_scan):
    array = np.zeros(dicom_scan.spatial_shape, dtype=np.uint8)
    array[1:4, 4:20, 5:25] = 1
    array[2, 8:12, 10:15] = 0  # a hole on the middle slice
    array[3, 2, 2] = 2
    table = LabelTable([LabelClass(1, "GTV", (255, 0, 0)), LabelClass(2, "marker", (0, 0, 255))])
    label_map = LabelMap(array, dicom_scan.geometry, table, Provenance.drawn())
    path = write_rtstruct(label_map, source_datasets(dicom_scan), tmp_path / "rs.dcm")

    ds = dcmread(path)
    assert ds.Modality == "RTSTRUCT" and [r.ROIName for r in ds.StructureSetROISequence] == ["GTV", "marker"]
    assert list(ds.ROIContourSequence[0].ROIDisplayColor) == [255, 0, 0]
    first_contour = ds.ROIContourSequence[0].ContourSequence[0]
    z_mm = np.asarray(first_contour.ContourData, dtype=float).reshape(-1, 3)[:, 2]
    assert np.allclose(z_mm, dicom_scan.geometry.index_to_world([1, 0, 0])[0])  # slice 1 in patient z
    assert len(ds.ROIContourSequence[0].ContourSequence) == 4  # three outlines and one hole

    loaded = read_rtstruct(path, dicom_scan)
    assert np.array_equal(loaded.array, array)
    assert loaded.labels.name_of(1) == "GTV" and loaded.labels[2].colour == (0, 0, 255)


def test_rtstruct_of_another_frame_of_reference_is_refused(tmp_path, dicom_scan):
    array = np.zeros(dicom_scan.spatial_shape, dtype=np.uint8)
    array[1, 3:6, 3:6] = 1
    path = write_rtstruct(
        LabelMap(array, dicom_scan.geometry), source_datasets(dicom_scan), tmp_path / "rs.dcm"
    )
    other = open_scan(write_ct_series(tmp_path / "other", np.zeros((5, 24, 30), dtype=np.int16)))
    with pytest.raises(AnnotationMismatchError, match="rs.dcm: this RTSTRUCT outlines another scan"):
        read_rtstruct(path, other)
