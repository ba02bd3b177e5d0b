"""Exporting DICOM SEG and RTSTRUCT, of DICOM scans and, through a DICOM copy, of NIfTI scans; read back
with highdicom, pydicom, SimpleITK's series reader and skimage."""

from __future__ import annotations

import numpy as np
import pytest
import SimpleITK as sitk
from dicom_files import write_ct_series
from pydicom import dcmread
from pydicom.uid import CTImageStorage, MRImageStorage, SecondaryCaptureImageStorage
from scipy.spatial.transform import Rotation
from skimage.draw import polygon as fill_polygon

import medview.annotations.export as export
from medview.annotations.export import export_annotation
from medview.annotations.rtstruct import read_rtstruct
from medview.annotations.seg import read_dicom_seg
from medview.core.errors import InputError
from medview.core.geometry import Geometry
from medview.core.labels import LabelClass, LabelTable
from medview.core.scan import LabelMap, Scan
from medview.io.dicom_series_writer import write_dicom_series
from medview.io.open import open_scan

TABLE = LabelTable([LabelClass(2, "liver", (200, 80, 60)), LabelClass(5, "lesion", (255, 220, 0))])


def _oblique(shape=(5, 12, 14)) -> Geometry:
    rotation = Rotation.from_euler("xyz", [8, -12, 20], degrees=True).as_matrix()
    return Geometry.from_spacing((2.5, 0.8, 0.7), (-31.5, 12.25, 40.125), rotation)


def _nifti_scan(values: np.ndarray, modality: str = "CT") -> Scan:
    return Scan(values, _oblique(values.shape), modality=modality, name="case 7", source="/data/case7.nii.gz")


def _copy_files(folder) -> list:
    """The copy's files as pydicom reads them, in InstanceNumber order."""
    return sorted((dcmread(path) for path in folder.iterdir()), key=lambda ds: int(ds.InstanceNumber))


def _series_image(folder) -> sitk.Image:
    reader = sitk.ImageSeriesReader()
    reader.SetFileNames(reader.GetGDCMSeriesFileNames(str(folder)))
    return reader.Execute()


def _same_geometry(image: sitk.Image, geometry: Geometry) -> bool:
    direction = np.array(image.GetDirection()).reshape(3, 3)[::-1, ::-1]  # ITK (x, y, z) -> array order
    return (
        np.allclose(image.GetSpacing()[::-1], geometry.spacing, atol=1e-6)
        and np.allclose(image.GetOrigin()[::-1], geometry.origin, atol=1e-6)
        and np.allclose(direction, geometry.direction, atol=1e-6)
    )


@pytest.mark.parametrize(
    ("modality", "dtype", "sop_class"),
    [
        ("CT", np.int16, CTImageStorage),
        ("MR", np.uint16, MRImageStorage),
        ("OT", np.int16, SecondaryCaptureImageStorage),
    ],
)
def test_dicom_copy_of_integers_is_exact_and_keeps_the_geometry(tmp_path, modality, dtype, sop_class):
    values = np.random.default_rng(1).integers(0, 3000, size=(5, 12, 14)).astype(dtype)
    scan = _nifti_scan(values, modality)
    headers = write_dicom_series(scan, tmp_path / "copy")

    files = _copy_files(tmp_path / "copy")
    assert len(files) == 5 and [h.SOPInstanceUID for h in headers] == [f.SOPInstanceUID for f in files]
    assert {f.SOPClassUID for f in files} == {sop_class}
    assert len({(f.StudyInstanceUID, f.SeriesInstanceUID, f.FrameOfReferenceUID) for f in files}) == 1
    for index, ds in enumerate(files):
        expected = scan.geometry.index_to_world([index, 0, 0])[::-1]  # (x, y, z) of the first pixel
        assert np.allclose([float(v) for v in ds.ImagePositionPatient], expected, atol=1e-6)
        assert np.array_equal(ds.pixel_array, values[index])
    assert np.allclose([float(v) for v in files[0].PixelSpacing], (0.8, 0.7))
    assert float(files[0].SliceThickness) == pytest.approx(2.5)

    image = _series_image(tmp_path / "copy")
    assert np.array_equal(sitk.GetArrayFromImage(image), values) and _same_geometry(image, scan.geometry)
    assert open_scan(tmp_path / "copy").geometry.matches(scan.geometry)


def test_dicom_copy_of_fractions_goes_through_rescale_to_half_a_slope(tmp_path):
    values = np.random.default_rng(2).normal(0, 300, size=(4, 6, 7)).astype(np.float32)
    write_dicom_series(_nifti_scan(values), tmp_path / "copy")
    files = _copy_files(tmp_path / "copy")
    slope = float(files[0].RescaleSlope)
    assert 0 < slope < 1 and files[0].SOPClassUID == CTImageStorage
    read = sitk.GetArrayFromImage(_series_image(tmp_path / "copy"))
    assert np.abs(read - values).max() <= slope / 2 + 1e-6


def test_dicom_copy_refuses_what_it_cannot_hold(tmp_path):
    values = np.zeros((2, 3, 4), np.int16)
    unknown = Scan(values, Geometry.identity(3), units="pixel")
    with pytest.raises(InputError, match="pixel size is unknown, and DICOM image positions need millimetres"):
        write_dicom_series(unknown, tmp_path / "a")
    (tmp_path / "b").mkdir()
    (tmp_path / "b" / "notes.txt").write_text("mine")
    with pytest.raises(InputError, match=r"b: the folder for the DICOM copy must be new or empty"):
        write_dicom_series(_nifti_scan(values), tmp_path / "b")
    nan = _nifti_scan(np.full((2, 3, 4), np.nan, np.float32))
    with pytest.raises(InputError, match="NaN or infinite values"):
        write_dicom_series(nan, tmp_path / "c")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["b"]


def _lesions(shape) -> np.ndarray:
    array = np.zeros(shape, np.uint8)
    array[1:3, 2:6, 3:9] = 2
    array[3, 7:10, 8:12] = 5
    return array


@pytest.mark.parametrize("seg_type", ["labelmap", "binary"])
def test_seg_of_a_dicom_scan_references_its_images(tmp_path, seg_type):
    import highdicom as hd

    volume = np.random.default_rng(0).integers(-1000, 1000, size=(5, 12, 14)).astype(np.int16)
    scan = open_scan(write_ct_series(tmp_path / "ct", volume))
    label_map = LabelMap(_lesions(scan.spatial_shape), scan.geometry, TABLE)
    written = export_annotation("seg", tmp_path / "seg.dcm", scan, label_map, seg_type=seg_type)
    assert written == [tmp_path / "seg.dcm"]

    seg = hd.seg.segread(written[0])
    assert seg.SegmentationType == seg_type.upper()
    assert seg.ReferencedSeriesSequence[0].SeriesInstanceUID == scan.metadata["series_uid"]
    segments = {int(s.SegmentNumber): s.SegmentLabel for s in seg.SegmentSequence if s.SegmentNumber != 0}
    numbers = {"labelmap": {2: 2, 5: 5}, "binary": {2: 1, 5: 2}}[seg_type]  # binary renumbers 1..N
    assert segments == {numbers[2]: "liver", numbers[5]: "lesion"}
    sources = sorted(
        (dcmread(p) for p in (tmp_path / "ct").iterdir()), key=lambda d: float(d.ImagePositionPatient[2])
    )
    pixels = seg.get_pixels_by_source_instance(
        [d.SOPInstanceUID for d in sources], combine_segments=True, relabel=False
    )
    expected = np.vectorize(lambda v: numbers.get(int(v), 0))(label_map.array)
    assert np.array_equal(pixels, expected)

    loaded = read_dicom_seg(written[0], scan)
    assert loaded.labels.name_of(numbers[5]) == "lesion"
    assert np.allclose(loaded.labels[numbers[2]].colour, (200, 80, 60), atol=2)


def test_seg_of_a_nifti_scan_references_a_dicom_copy(tmp_path):
    import highdicom as hd

    scan = _nifti_scan(np.random.default_rng(3).integers(-500, 500, size=(5, 12, 14)).astype(np.int16))
    label_map = LabelMap(_lesions(scan.spatial_shape), scan.geometry, TABLE)
    copy = tmp_path / "case7-dicom"
    written = export_annotation(
        "seg", tmp_path / "case7-seg.dcm", scan, label_map, seg_type="labelmap", dicom_copy=copy
    )
    assert written == [tmp_path / "case7-seg.dcm", copy]

    files = _copy_files(copy)
    seg = hd.seg.segread(written[0])
    assert seg.ReferencedSeriesSequence[0].SeriesInstanceUID == files[0].SeriesInstanceUID
    assert seg.FrameOfReferenceUID == files[0].FrameOfReferenceUID
    pixels = seg.get_pixels_by_source_instance(
        [f.SOPInstanceUID for f in files], combine_segments=True, relabel=False
    )
    assert np.array_equal(pixels, label_map.array)
    assert _same_geometry(_series_image(copy), scan.geometry)
    reopened = open_scan(copy)
    assert np.array_equal(read_dicom_seg(written[0], reopened).array, label_map.array)


def test_seg_of_a_2d_image_references_a_one_image_copy(tmp_path):
    import highdicom as hd

    scan = Scan(
        np.arange(600, dtype=np.uint16).reshape(20, 30), Geometry.from_spacing((0.2, 0.3)), name="cxr"
    )
    array = np.zeros((20, 30), np.uint8)
    array[3:9, 4:20] = 5
    label_map = LabelMap(array, scan.geometry, TABLE)
    seg_path, copy = export_annotation(
        "seg", tmp_path / "cxr.dcm", scan, label_map, seg_type="labelmap", dicom_copy=tmp_path / "c"
    )
    (source,) = _copy_files(copy)
    assert np.array_equal(source.pixel_array, scan.array)
    assert [float(v) for v in source.PixelSpacing] == [0.2, 0.3]
    pixels = hd.seg.segread(seg_path).get_pixels_by_source_instance(
        [source.SOPInstanceUID], combine_segments=True, relabel=False
    )
    assert np.array_equal(pixels[0], array)


def test_failed_seg_leaves_no_copy_and_no_file(tmp_path, monkeypatch):
    def broken(*args, **kwargs):
        raise RuntimeError("highdicom failed")

    monkeypatch.setattr(export, "write_dicom_seg", broken)
    scan = _nifti_scan(np.zeros((5, 12, 14), np.int16))
    label_map = LabelMap(_lesions(scan.spatial_shape), scan.geometry, TABLE)
    (tmp_path / "empty").mkdir()
    with pytest.raises(RuntimeError):
        export_annotation("seg", tmp_path / "s.dcm", scan, label_map, dicom_copy=tmp_path / "empty")
    assert [p.name for p in tmp_path.iterdir()] == ["empty"] and not any((tmp_path / "empty").iterdir())


def test_nifti_scan_to_seg_without_a_copy_folder_is_refused(tmp_path):
    scan = _nifti_scan(np.zeros((5, 12, 14), np.int16))
    label_map = LabelMap(_lesions(scan.spatial_shape), scan.geometry, TABLE)
    with pytest.raises(
        InputError, match=r"s\.dcm: DICOM SEG and RTSTRUCT reference .* case7\.nii\.gz, not DICOM"
    ):
        export_annotation("seg", tmp_path / "s.dcm", scan, label_map)
    assert list(tmp_path.iterdir()) == []


def _patient_to_index(ds, world: np.ndarray) -> np.ndarray:
    """(row, column) of patient points (x, y, z) on the image ``ds``, from its DICOM plane attributes."""
    origin = np.array([float(v) for v in ds.ImagePositionPatient])
    orientation = np.array([float(v) for v in ds.ImageOrientationPatient])
    along_row, along_column = orientation[:3], orientation[3:]
    row_spacing, column_spacing = (float(v) for v in ds.PixelSpacing)
    offset = world - origin
    assert np.allclose(offset @ np.cross(along_row, along_column), 0, atol=1e-3)  # on the slice's plane
    return np.column_stack([offset @ along_column / row_spacing, offset @ along_row / column_spacing])


def test_rtstruct_contours_fill_back_to_the_square_and_the_ring(tmp_path):
    scan = _nifti_scan(np.zeros((5, 24, 26), np.int16))
    array = np.zeros(scan.spatial_shape, np.uint8)
    array[1, 4:12, 5:13] = 2  # a square
    array[3, 6:20, 6:20] = 5
    array[3, 10:16, 10:16] = 0  # a ring
    label_map = LabelMap(array, scan.geometry, TABLE)
    rs_path, copy = export_annotation(
        "rtstruct", tmp_path / "rs.dcm", scan, label_map, dicom_copy=tmp_path / "c"
    )

    ds = dcmread(rs_path)
    assert ds.Modality == "RTSTRUCT" and [r.ROIName for r in ds.StructureSetROISequence] == [
        "liver",
        "lesion",
    ]
    images = {f.SOPInstanceUID: (int(f.InstanceNumber) - 1, f) for f in _copy_files(copy)}
    filled = np.zeros(array.shape, np.uint8)
    for value, item in zip((2, 5), ds.ROIContourSequence, strict=True):
        for contour in item.ContourSequence:
            index, image = images[contour.ContourImageSequence[0].ReferencedSOPInstanceUID]
            world = np.asarray(contour.ContourData, dtype=float).reshape(-1, 3)
            rows_columns = _patient_to_index(image, world)
            rows, columns = fill_polygon(rows_columns[:, 0], rows_columns[:, 1], array.shape[1:])
            plane = filled[index]
            plane[rows, columns] ^= value  # even-odd: the ring's inner contour empties its hole
    assert np.array_equal(filled, array)
    loaded = read_rtstruct(rs_path, open_scan(copy))  # ROI k becomes value k
    assert np.array_equal(loaded.array == 1, array == 2) and np.array_equal(loaded.array == 2, array == 5)
