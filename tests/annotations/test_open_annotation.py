"""open_annotation lays each annotation format over the scan shown, or says why it does not fit.

Every file is written here without medview's writers: label maps and Slicer segmentations by
SimpleITK, the DICOM SEG by highdicom, COCO and GeoJSON as plain JSON.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
import pydicom
import pytest
import SimpleITK as sitk
from dicom_files import ORIGIN_XYZ, SPACING, write_ct_series

from medview.annotations.nifti import RESAMPLE_HINT, AnnotationMismatchError
from medview.annotations.open_over import is_annotation_file, open_annotation
from medview.core.boxes import Box
from medview.core.errors import InputError
from medview.core.geometry import Geometry
from medview.core.scan import Scan
from medview.io import ScanError, open_label_map, open_scan

sys.path.insert(0, str(Path(__file__).parents[1] / "io"))
from dicom_meaning_files import write_seg  # noqa: E402

SHAPE = (4, 6, 8)  # z, y, x
XYZ_SPACING = (0.7, 0.8, 2.5)
XYZ_ORIGIN = (-20.0, 30.0, -100.0)


def _sitk(array: np.ndarray, origin=XYZ_ORIGIN, spacing=XYZ_SPACING) -> sitk.Image:
    image = sitk.GetImageFromArray(array)
    image.SetSpacing(spacing[: array.ndim])
    image.SetOrigin(origin[: array.ndim])
    return image


@pytest.fixture
def volume_scan(tmp_path) -> Scan:
    path = tmp_path / "brain.nii.gz"
    sitk.WriteImage(_sitk(np.zeros(SHAPE, dtype=np.int16)), str(path))
    return open_scan(path)


def _two_labels() -> np.ndarray:
    array = np.zeros(SHAPE, dtype=np.uint8)
    array[1, 2:4, 1:3] = 1  # grey matter
    array[2, 3:5, 4:7] = 2  # white matter
    return array


def test_a_nifti_without_a_table_opens_with_two_distinct_colours(tmp_path, volume_scan):
    path = tmp_path / "tissue.nii.gz"
    sitk.WriteImage(_sitk(_two_labels()), str(path))

    opened = open_annotation(path, volume_scan)

    assert opened.name == "tissue" and opened.boxes is None and opened.warnings == []
    assert opened.label_map.fits(volume_scan)
    np.testing.assert_array_equal(opened.label_map.array, _two_labels())
    labels = opened.label_map.labels
    assert [label.name for label in labels] == ["label 1", "label 2"]
    assert np.linalg.norm(np.subtract(labels[1].colour, labels[2].colour)) > 40
    assert open_label_map(path).labels == labels  # the same table wherever a label map is read


def test_a_shifted_nifti_is_refused_with_its_misfit_or_resampled_on_request(tmp_path, volume_scan):
    path = tmp_path / "shifted.nii.gz"
    # two columns (2 x 0.7 mm) further to the patient's left
    sitk.WriteImage(_sitk(_two_labels(), origin=(-18.6, 30.0, -100.0)), str(path))

    with pytest.raises(AnnotationMismatchError, match="shifted by 1.40 mm \\(x \\+1.40\\)") as refused:
        open_annotation(path, volume_scan)
    assert refused.value.misfit.kind == "origin" and refused.value.misfit.overlaps
    assert str(refused.value).endswith(RESAMPLE_HINT)

    opened = open_annotation(path, volume_scan, resample=True)
    assert opened.label_map.fits(volume_scan)
    expected = np.zeros(SHAPE, dtype=np.uint8)
    expected[..., 2:] = _two_labels()[..., :-2]
    np.testing.assert_array_equal(opened.label_map.array, expected)
    assert opened.warnings[0].startswith(
        "resampled nearest-neighbour onto the scan's grid: the annotation is shifted"
    )


def test_an_annotation_outside_the_scan_is_refused_even_with_resampling(tmp_path, volume_scan):
    path = tmp_path / "elsewhere.nii.gz"
    sitk.WriteImage(_sitk(_two_labels(), origin=(300.0, 30.0, -100.0)), str(path))
    for resample in (False, True):
        with pytest.raises(AnnotationMismatchError, match="lies entirely outside the scan$") as refused:
            open_annotation(path, volume_scan, resample=resample)
        assert not refused.value.misfit.overlaps and RESAMPLE_HINT not in str(refused.value)


def _slicer_segmentation(path, array: np.ndarray, fields: dict[str, str]) -> None:
    image = _sitk(array)
    for key, value in fields.items():
        image.SetMetaData(key, value)
    sitk.WriteImage(image, str(path), useCompression=True)


SLICER_FIELDS = {
    "Segment0_ID": "Segment_1",
    "Segment0_Name": "liver",
    "Segment0_Color": "0.86 0.3 0.2",
    "Segment0_LabelValue": "1",
    "Segment0_Layer": "0",
    "Segment0_Extent": "1 2 2 3 1 1",
    "Segment1_ID": "Segment_2",
    "Segment1_Name": "tumour",
    "Segment1_Color": "1 0.8 0",
    "Segment1_LabelValue": "3",
    "Segment1_Layer": "0",
    "Segmentation_MasterRepresentation": "Binary labelmap",
}


def test_a_slicer_segmentation_keeps_its_segment_names_colours_and_values(tmp_path, volume_scan):
    array = _two_labels()
    array[array == 2] = 3
    path = tmp_path / "case.seg.nrrd"
    _slicer_segmentation(path, array, SLICER_FIELDS)

    opened = open_annotation(path, volume_scan)

    assert opened.name == "case"
    labels = opened.label_map.labels
    assert [(label.value, label.name) for label in labels] == [(1, "liver"), (3, "tumour")]
    assert labels[1].colour == (219, 76, 51) and labels[3].colour == (255, 204, 0)  # round(255 x fraction)
    np.testing.assert_array_equal(opened.label_map.array, array)
    assert open_label_map(path).labels == labels


def test_a_slicer_segmentation_of_several_layers_is_refused(tmp_path, volume_scan):
    first, second = (_sitk((_two_labels() == value).astype(np.uint8)) for value in (1, 2))
    layered = sitk.Compose(first, second)
    fields = {**SLICER_FIELDS, "Segment1_Layer": "1", "Segment1_LabelValue": "1"}
    for key, value in fields.items():
        layered.SetMetaData(key, value)
    path = tmp_path / "overlapping.seg.nrrd"
    sitk.WriteImage(layered, str(path))
    with pytest.raises(
        ScanError, match="overlapping.seg.nrrd: .*overlapping segments in 2 layers.*export it"
    ):
        open_annotation(path, volume_scan)


@pytest.fixture
def ct(tmp_path):
    volume = np.random.default_rng(1).integers(-500, 500, size=(5, 12, 10)).astype(np.int16)
    folder = write_ct_series(tmp_path / "ct", volume)
    return folder, open_scan(folder)


def _write_seg(folder, mask: np.ndarray, path) -> None:
    """A binary SEG "nodules" of every slice, written by highdicom; ``mask`` in ascending slice position."""
    sources = sorted(
        (pydicom.dcmread(file) for file in folder.iterdir()), key=lambda ds: float(ds.ImagePositionPatient[2])
    )
    write_seg(path, sources, mask[..., np.newaxis], ["nodule"], series_description="nodules")


def test_a_dicom_seg_of_the_series_shown_lies_on_its_slices(tmp_path, ct):
    folder, scan = ct
    mask = np.zeros((5, 12, 10), dtype=np.uint8)
    mask[3, 4:7, 2:5] = 1
    _write_seg(folder, mask, tmp_path / "seg.dcm")
    # the scan's slice 0 is the lowest ImagePositionPatient z, as the SEG's first frame
    assert np.isclose(scan.geometry.origin[0], ORIGIN_XYZ[2]) and np.isclose(scan.spacing[0], SPACING[0])

    opened = open_annotation(tmp_path / "seg.dcm", scan)

    assert opened.name == "SEG nodules"
    np.testing.assert_array_equal(opened.label_map.array, mask)
    assert opened.label_map.labels.name_of(1) == "nodule" and opened.label_map.fits(scan)
    assert is_annotation_file(tmp_path / "seg.dcm")
    assert not is_annotation_file(next(folder.iterdir()))

    nifti_scan = Scan(scan.array, scan.geometry, name="not dicom")
    with pytest.raises(ScanError, match="seg.dcm: this segmentation is of series .* not of the open scan's"):
        open_annotation(tmp_path / "seg.dcm", nifti_scan)


def _photo(name: str = "chest.png") -> Scan:
    return Scan(
        np.zeros((64, 80), dtype=np.uint8),
        Geometry.identity(2),
        name=name,
        units="pixel",
        source=f"/x/{name}",
    )


def _coco(images: list[dict]) -> dict:
    return {
        "images": images,
        "annotations": [
            {"id": 1, "image_id": 2, "category_id": 1, "bbox": [10, 20, 5, 8]},
            {"id": 2, "image_id": 2, "category_id": 2, "bbox": [30, 1, 4, 4], "score": 0.4},
            {"id": 3, "image_id": 1, "category_id": 1, "bbox": [0, 0, 2, 2]},
        ],
        "categories": [{"id": 1, "name": "nodule"}, {"id": 2, "name": "mass"}],
    }


def test_coco_boxes_of_the_image_named_like_the_scan(tmp_path):
    images = [
        {"id": 1, "file_name": "other.png", "height": 64, "width": 80},
        {"id": 2, "file_name": "images/chest.png", "height": 64, "width": 80},
    ]
    path = tmp_path / "boxes.json"
    path.write_text(json.dumps(_coco(images)))

    opened = open_annotation(path, _photo())

    # COCO bbox [x, y, width, height] -> (row, column) corners
    assert opened.boxes == [Box(1, 1.0, (20.0, 10.0), (28.0, 15.0)), Box(2, 0.4, (1.0, 30.0), (5.0, 34.0))]
    assert opened.label_map is None and opened.name == "boxes"
    assert [label.name for label in opened.box_labels] == ["nodule", "mass"]
    colours = [label.colour for label in opened.box_labels]
    assert colours[0] != colours[1] and len({*colours[0]}) > 1  # not the greys of a bare reader

    with pytest.raises(InputError, match="no image named like scan.png: other.png, images/chest.png"):
        open_annotation(path, _photo("scan.png"))


def test_coco_of_one_image_is_taken_when_its_size_is_the_scans(tmp_path):
    path = tmp_path / "one.json"
    document = _coco([{"id": 2, "file_name": "x.png", "height": 64, "width": 100}])
    document["annotations"] = document["annotations"][:2]  # those of image 2
    path.write_text(json.dumps(document))
    with pytest.raises(
        AnnotationMismatchError, match="is 100 x 64 \\(x, y\\) pixels but the scan is 80 x 64"
    ) as refused:
        open_annotation(path, _photo())
    assert refused.value.misfit is None
    with pytest.raises(InputError, match="COCO boxes are 2D and this scan is 3D"):
        open_annotation(path, Scan(np.zeros(SHAPE), Geometry.identity(3)))

    document["images"][0]["width"] = 80
    path.write_text(json.dumps(document))
    opened = open_annotation(path, _photo())
    assert len(opened.boxes) == 2 and opened.warnings == ["these boxes are of x.png, shown over chest.png"]


def test_medview_boxes_open_with_a_warning_when_drawn_on_another_scan(tmp_path, volume_scan):
    document = {
        "scan": "other.nii.gz",
        "labels": {"classes": [{"value": 1, "name": "lesion", "colour": [255, 0, 0]}]},
        "boxes": [
            {"label": 1, "score": 0.9, "start": [0, 1, 2], "stop": [2, 3, 4]},
            {"label": 4, "score": 0.5, "start": [10, 1, 2], "stop": [12, 3, 4]},
        ],
    }
    path = tmp_path / "found.json"
    path.write_text(json.dumps(document))

    opened = open_annotation(path, volume_scan)

    assert opened.boxes[0] == Box(1, 0.9, (0.0, 1.0, 2.0), (2.0, 3.0, 4.0))
    assert [label.name for label in opened.box_labels] == ["lesion", "label 4"]
    assert "1 of the 2 boxes lies outside the scan" in opened.warnings
    assert "these boxes were drawn on other.nii.gz, not on brain" in opened.warnings


def _feature(geometry: dict, classification: dict | None = None) -> dict:
    properties = {"objectType": "annotation"}
    if classification is not None:
        properties["classification"] = classification
    return {"type": "Feature", "geometry": geometry, "properties": properties}


def _square(left: float, top: float, size: float) -> list[list[float]]:
    return [[left, top], [left + size, top], [left + size, top + size], [left, top + size], [left, top]]


def test_geojson_outlines_are_filled_with_classes_in_order_of_appearance(tmp_path):
    slide = Scan(
        np.zeros((40, 50, 3), dtype=np.uint8), Geometry.from_spacing((0.5, 0.5)), rgb=True, units="um"
    )
    features = [
        _feature(
            {"type": "Polygon", "coordinates": [_square(10, 5, 10), _square(12, 7, 2)]}, {"name": "stroma"}
        ),
        _feature(
            {"type": "Polygon", "coordinates": [_square(30, 20, 4)]}, {"name": "tumour", "color": [200, 0, 0]}
        ),
        _feature({"type": "Point", "coordinates": [3, 3]}, {"name": "tumour"}),
        _feature({"type": "MultiPolygon", "coordinates": [[_square(0, 30, 3)], [_square(45, 36, 10)]]}),
    ]
    path = tmp_path / "slide.geojson"
    path.write_text(json.dumps({"type": "FeatureCollection", "features": features}))

    opened = open_annotation(path, slide)

    expected = np.zeros((40, 50), dtype=np.uint8)
    expected[5:15, 10:20] = 1  # edges [10, 20) x [5, 15), with a 2 x 2 hole
    expected[7:9, 12:14] = 0
    expected[20:24, 30:34] = 2
    expected[30:33, 0:3] = 3
    expected[36:40, 45:50] = 3  # cut at the image's edge
    np.testing.assert_array_equal(opened.label_map.array, expected)
    labels = opened.label_map.labels
    assert [(label.value, label.name) for label in labels] == [
        (1, "stroma"),
        (2, "tumour"),
        (3, "unclassified"),
    ]
    assert labels[2].colour == (200, 0, 0) and labels[1].colour != labels[3].colour
    assert opened.label_map.fits(slide)
    assert "1 point or line is not an area and is not shown" in opened.warnings
    assert any("cut at its edge" in warning for warning in opened.warnings)


def test_geojson_entirely_off_the_image_is_refused(tmp_path):
    path = tmp_path / "far.geojson"
    far = _feature({"type": "Polygon", "coordinates": [_square(500, 500, 10)]}, {"name": "tumour"})
    path.write_text(json.dumps([far]))  # older QuPath exports are a bare list of features
    with pytest.raises(AnnotationMismatchError, match="none of the 1 outlines lies on the scan \\(80 x 64"):
        open_annotation(path, _photo())


def test_a_one_slice_volume_over_a_2d_scan_is_taken_as_its_plane(tmp_path):
    image = Scan(
        np.zeros((6, 8), dtype=np.uint8), Geometry.from_spacing((0.8, 0.7), (30.0, -20.0)), name="xray"
    )
    array = np.zeros((1, 6, 8), dtype=np.uint8)
    array[0, 2:4, 5] = 1
    path = tmp_path / "mask.nii.gz"
    sitk.WriteImage(_sitk(array, origin=(-20.0, 30.0, 0.0), spacing=(0.7, 0.8, 1.0)), str(path))

    opened = open_annotation(path, image)

    assert opened.label_map.fits(image)
    np.testing.assert_array_equal(opened.label_map.array, array[0])


def test_is_annotation_file_reads_only_what_it_needs(tmp_path):
    labels, scan, sidecar = tmp_path / "l.nii.gz", tmp_path / "s.nii.gz", tmp_path / "l.labels.json"
    sitk.WriteImage(_sitk(_two_labels()), str(labels))
    sitk.WriteImage(_sitk(np.zeros(SHAPE, dtype=np.float32)), str(scan))
    ct, wide_labels = tmp_path / "ct.nii.gz", tmp_path / "wide.nii.gz"
    sitk.WriteImage(_sitk(np.full(SHAPE, -1000, dtype=np.int16)), str(ct))
    sitk.WriteImage(_sitk(_two_labels().astype(np.uint16)), str(wide_labels))
    (tmp_path / "wide.labels.json").write_text("{}")
    sidecar.write_text("{}")
    (tmp_path / "a.geojson").write_text("{}")
    _slicer_segmentation(tmp_path / "c.seg.nrrd", _two_labels(), SLICER_FIELDS)
    assert is_annotation_file(labels) and is_annotation_file(tmp_path / "c.seg.nrrd")
    assert is_annotation_file(tmp_path / "a.geojson")
    assert not is_annotation_file(scan) and not is_annotation_file(sidecar)
    assert not is_annotation_file(ct) and is_annotation_file(wide_labels)  # int16 CT; uint16 with a table
    assert not is_annotation_file(tmp_path / "missing.nii.gz")


def test_files_that_are_not_annotations_are_refused(tmp_path, volume_scan):
    (tmp_path / "notes.json").write_text(json.dumps({"hello": 1}))
    with pytest.raises(InputError, match="notes.json: not an annotation medview reads"):
        open_annotation(tmp_path / "notes.json", volume_scan)
    with pytest.raises(InputError, match="missing.nii.gz: no such file"):
        open_annotation(tmp_path / "missing.nii.gz", volume_scan)
