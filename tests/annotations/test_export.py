"""Exporting annotations: what each format refuses, and NIfTI, 3D Slicer NRRD, COCO and GeoJSON read
back with SimpleITK, json and shapely (the DICOM formats are in test_export_dicom.py)."""

from __future__ import annotations

import gzip
import json

import numpy as np
import pytest
import shapely
import SimpleITK as sitk
from scipy.spatial.transform import Rotation
from shapely.geometry import shape as geojson_shape
from skimage.draw import polygon as fill_polygon

from medview.annotations.export import FORMATS, export_annotation, export_reason, format_from_path
from medview.cli.export import _FORMATS as CLI_FORMATS
from medview.core.boxes import Box
from medview.core.errors import InputError
from medview.core.geometry import Geometry
from medview.core.labels import LabelClass, LabelTable
from medview.core.scan import LabelMap, Scan

TABLE = LabelTable([LabelClass(1, "liver", (200, 80, 60)), LabelClass(2, "lesion", (255, 220, 0))])


def _volume_scan(units: str = "mm") -> Scan:
    rotation = Rotation.from_euler("xyz", [5, -10, 15], degrees=True).as_matrix()
    geometry = Geometry.from_spacing((2.5, 0.8, 0.7), (-30.0, 12.0, 40.0), rotation)
    return Scan(
        np.zeros((4, 10, 12), np.int16), geometry, modality="CT", units=units, source="/data/ct.nii.gz"
    )


def _image_scan() -> Scan:
    return Scan(np.zeros((20, 30), np.uint8), Geometry.from_spacing((0.2, 0.2)), source="/data/cxr.png")


def _label_map(scan: Scan, table: LabelTable = TABLE) -> LabelMap:
    array = np.zeros(scan.spatial_shape, np.uint8)
    if array.ndim == 3:
        array[1:3, 2:6, 3:8] = 1
        array[3, 7, 9] = 2
    else:
        array[2:6, 3:8] = 1
        array[10, 20] = 2
    return LabelMap(array, scan.geometry, table)


@pytest.mark.parametrize(
    ("name", "fmt"),
    [
        ("ct.nii.gz", "nifti"),
        ("CT.NII", "nifti"),
        ("ct.seg.nrrd", "nrrd"),
        ("ct.nrrd", "nrrd"),
        ("seg.dcm", "seg"),
        ("cxr.json", "coco"),
        ("slide.geojson", "geojson"),
    ],
)
def test_format_follows_the_suffix(name, fmt):
    assert format_from_path(name) == fmt


def test_unknown_suffix_is_refused_naming_the_file():
    with pytest.raises(InputError, match=r"^out\.png: cannot tell the export format"):
        format_from_path("out.png")


def test_cli_offers_exactly_the_export_formats():
    assert CLI_FORMATS == FORMATS


def _reason_cases():
    volume, image = _volume_scan(), _image_scan()
    negative = LabelMap(np.full(volume.spatial_shape, -3, np.int16), volume.geometry)
    high = LabelMap(np.full(volume.spatial_shape, 70000, np.int32), volume.geometry)
    empty = LabelMap(np.zeros(volume.spatial_shape, np.uint8), volume.geometry)
    boxes_2d, boxes_3d = [Box(1, 1.0, (1, 1), (3, 4))], [Box(1, 1.0, (0, 1, 1), (2, 3, 4))]
    copy = {"dicom_copy": "copy"}
    return [
        ("coco", volume, _label_map(volume), None, {}, "COCO holds boxes and outlines of 2D images; this "
         "annotation is 3D — export it as NIfTI, NRRD or DICOM SEG"),
        ("coco", volume, None, boxes_3d, {}, "these boxes are 3D — keep them as medview box JSON"),
        ("coco", image, None, [Box(0, 1.0, (1, 1), (3, 4))], {}, "label 0 or less"),
        ("coco", image, None, None, {}, "nothing to export: there is no label map and no box"),
        ("nifti", volume, None, None, {}, "nothing to export: there is no label map"),
        ("nifti", image, None, boxes_2d, {}, "NIfTI holds label maps, not boxes; export the boxes as COCO"),
        ("nifti", volume, negative, None, {}, "label values are 0 (background) or positive; this annotation "
         "holds -3"),
        ("seg", volume, _label_map(volume), None, {}, "DICOM SEG and RTSTRUCT reference the DICOM images "
         "they outline; this scan was opened from ct.nii.gz, not DICOM — give a folder for a DICOM copy"),
        ("seg", volume, empty, None, copy, "nothing to export: the annotation is empty"),
        ("seg", volume, high, None, {**copy, "seg_type": "labelmap"}, "a label-map DICOM SEG numbers "
         "segments up to 65535; this annotation uses label 70000"),
        ("rtstruct", image, _label_map(image), None, copy, "RTSTRUCT holds contours on the slices of a 3D "
         "series; this scan is 2D"),
        ("rtstruct", _volume_scan("pixel"), _label_map(volume), None, copy, "this scan's pixel size is "
         "unknown, and DICOM image positions need millimetres"),
        ("geojson", volume, _label_map(volume), None, {}, "GeoJSON is for 2D images and slides; this "
         "annotation is 3D"),
        ("nrrd", Scan(np.zeros((20, 30), np.uint8), image.geometry, units="um"), _label_map(image), None,
         {}, "3D Slicer measures in mm; this slide is calibrated in µm"),
    ]  # fmt: skip


@pytest.mark.parametrize(("fmt", "scan", "label_map", "boxes", "options", "expected"), _reason_cases())
def test_each_format_says_in_one_sentence_why_it_cannot_hold_an_annotation(
    fmt, scan, label_map, boxes, options, expected
):
    reason = export_reason(fmt, scan, label_map, boxes, **options)
    assert reason is not None and expected in reason and "\n" not in reason


def test_formats_that_hold_the_annotation_give_no_reason():
    volume, image = _volume_scan(), _image_scan()
    high = LabelMap(np.full(volume.spatial_shape, 70000, np.int32), volume.geometry)
    assert export_reason("nifti", volume, _label_map(volume)) is None
    assert export_reason("nrrd", image, _label_map(image)) is None
    assert export_reason("seg", volume, _label_map(volume), dicom_copy="copy") is None
    assert export_reason("seg", volume, high, seg_type="binary", dicom_copy="copy") is None  # renumbered
    assert export_reason("coco", image, _label_map(image), [Box(1, 1.0, (1, 1), (3, 4))]) is None
    assert export_reason("geojson", image, _label_map(image)) is None


def test_refused_export_raises_the_reason_naming_the_output_and_writes_nothing(tmp_path):
    volume = _volume_scan()
    with pytest.raises(InputError, match=r"out\.json: COCO holds boxes and outlines of 2D images"):
        export_annotation("coco", tmp_path / "out.json", volume, _label_map(volume))
    with pytest.raises(InputError, match=r"out\.json: the name of a NIfTI file ends in \.nii\.gz or \.nii"):
        export_annotation("nifti", tmp_path / "out.json", volume, _label_map(volume))
    other = LabelMap(np.zeros((4, 10, 11), np.uint8), Geometry.identity(3))
    with pytest.raises(InputError, match=r"out\.nii\.gz: "):
        export_annotation("nifti", tmp_path / "out.nii.gz", volume, other)
    assert list(tmp_path.iterdir()) == []


def test_a_failure_midway_leaves_neither_the_file_nor_its_sidecar(tmp_path, monkeypatch):
    import medview.io.writers as writers

    def full_disk(path, text):
        raise OSError("No space left on device")

    monkeypatch.setattr(writers, "write_text_atomic", full_disk)
    volume = _volume_scan()
    with pytest.raises(OSError, match="No space left"):
        export_annotation("nifti", tmp_path / "ct-labels.nii.gz", volume, _label_map(volume))
    assert list(tmp_path.iterdir()) == []


def test_nifti_export_keeps_voxels_geometry_and_label_names(tmp_path):
    volume = _volume_scan()
    label_map = _label_map(volume)
    written = export_annotation("nifti", tmp_path / "ct-labels.nii.gz", volume, label_map)
    assert written == [tmp_path / "ct-labels.nii.gz", tmp_path / "ct-labels.labels.json"]
    image = sitk.ReadImage(str(written[0]))
    assert np.array_equal(sitk.GetArrayFromImage(image), label_map.array)
    assert np.allclose(image.GetSpacing(), (0.7, 0.8, 2.5))
    assert np.allclose(image.GetOrigin(), (40.0, 12.0, -30.0))
    sidecar = json.loads(written[1].read_text())
    assert [c["name"] for c in sidecar["labels"]["classes"]] == ["liver", "lesion"]


def _nrrd_header(path) -> dict[str, str]:
    """The ``key:=value`` fields of a NRRD header, parsed from the raw text."""
    raw = path.read_bytes()
    header = raw[: raw.index(b"\n\n")].decode("ascii")
    assert "encoding: gzip" in header
    gzip.decompress(raw[raw.index(b"\n\n") + 2 :])  # the voxels follow, compressed
    return dict(line.split(":=", 1) for line in header.splitlines() if ":=" in line)


def test_slicer_segmentation_has_the_fields_slicer_reads(tmp_path):
    volume = _volume_scan()
    table = LabelTable([*TABLE, LabelClass(4, "vessel", (0, 0, 255))])  # 4 is in no voxel
    label_map = _label_map(volume, table)
    label_map.array[0, 0, 11] = 7  # a value the table does not name
    written = export_annotation("nrrd", tmp_path / "ct.seg.nrrd", volume, label_map)
    assert written == [tmp_path / "ct.seg.nrrd"]

    image = sitk.ReadImage(str(written[0]))
    assert np.array_equal(sitk.GetArrayFromImage(image), label_map.array)
    assert np.allclose(image.GetSpacing(), (0.7, 0.8, 2.5)) and np.allclose(image.GetOrigin(), (40, 12, -30))
    direction = np.array(image.GetDirection()).reshape(3, 3)[::-1, ::-1]  # to array order
    assert np.allclose(direction, volume.geometry.direction)
    assert image.GetMetaData("Segment1_Name") == "lesion"

    fields = _nrrd_header(written[0])
    assert fields["Segmentation_MasterRepresentation"] == "Binary labelmap"
    assert fields["Segmentation_ContainedRepresentationNames"] == "Binary labelmap|"
    assert fields["Segmentation_ReferenceImageExtentOffset"] == "0 0 0"
    segments = [
        {key.split("_", 1)[1]: value for key, value in fields.items() if key.startswith(f"Segment{i}_")}
        for i in range(4)
    ]
    assert [s["Name"] for s in segments] == ["liver", "lesion", "vessel", "label 7"]
    assert [s["LabelValue"] for s in segments] == ["1", "2", "4", "7"]
    assert [s["ID"] for s in segments] == ["Segment_1", "Segment_2", "Segment_4", "Segment_7"]
    assert {s["Layer"] for s in segments} == {"0"}
    assert {s["NameAutoGenerated"] for s in segments} == {"0"}
    colour = [float(v) for v in segments[0]["Color"].split()]
    assert colour == pytest.approx([200 / 255, 80 / 255, 60 / 255], abs=1e-6)
    # Extent: inclusive voxel bounds i0 i1 j0 j1 k0 k1, x (columns) first
    assert segments[0]["Extent"] == "3 7 2 5 1 2"
    assert segments[1]["Extent"] == "9 9 7 7 3 3"
    assert segments[2]["Extent"] == "0 -1 0 -1 0 -1"  # what Slicer writes for an empty segment
    assert segments[0]["Tags"].endswith("|") and "SCT^85756007^Tissue" in segments[0]["Tags"]


def test_2d_slicer_segmentation_is_one_slice_at_z_0(tmp_path):
    image_scan = _image_scan()
    label_map = _label_map(image_scan)
    (path,) = export_annotation("nrrd", tmp_path / "cxr.seg.nrrd", image_scan, label_map)
    image = sitk.ReadImage(str(path))
    assert image.GetSize() == (30, 20, 1)
    assert np.allclose(image.GetSpacing(), (0.2, 0.2, 1.0)) and np.allclose(image.GetOrigin(), (0, 0, 0))
    assert np.array_equal(sitk.GetArrayFromImage(image)[0], label_map.array)
    assert _nrrd_header(path)["Segment0_Extent"] == "3 7 2 5 0 0"


def _coco_mask(annotation: dict, shape: tuple[int, int]) -> np.ndarray:
    """Rasterise a COCO segmentation: polygons by pixel centre, uncompressed RLE by runs (column-major)."""
    mask = np.zeros(shape, bool)
    segmentation = annotation["segmentation"]
    if isinstance(segmentation, dict):
        assert segmentation["size"] == list(shape)
        flat, at = np.zeros(shape[0] * shape[1], bool), 0
        for run, count in enumerate(segmentation["counts"]):
            flat[at : at + count] = run % 2 == 1
            at += count
        assert at == flat.size
        return flat.reshape(shape, order="F")
    for polygon in segmentation:
        xs, ys = np.array(polygon[0::2]), np.array(polygon[1::2])
        assert len(xs) >= 3
        x, y, width, height = annotation["bbox"]
        assert (xs.min(), ys.min(), xs.max() - xs.min(), ys.max() - ys.min()) == (x, y, width, height)
        rows, columns = fill_polygon(ys - 0.5, xs - 0.5, shape)  # pixel (r, c) has its centre at (c+.5, r+.5)
        mask[rows, columns] = True
    return mask


def test_coco_holds_the_label_map_regions_and_the_boxes(tmp_path):
    scan = Scan(np.zeros((24, 32), np.uint8), Geometry.from_spacing((0.5, 0.5)), source="/data/cxr.png")
    array = np.zeros((24, 32), np.uint8)
    array[2:8, 3:10] = 1  # a rectangle
    array[12:20, 2:10] = 1
    array[14:17, 4:7] = 0  # ... and a ring: a region with a hole
    array[3, 20] = array[4, 21] = 2  # two pixels touching at a corner: two regions
    array[15:22, 18:30] = 2
    array[18, 24:30] = 0  # a notch open to the outside is no hole
    label_map = LabelMap(array, scan.geometry, TABLE)
    boxes = [Box(3, 0.9, (1.0, 12.0), (6.0, 18.0))]
    box_labels = LabelTable([LabelClass(3, "nodule", (1, 2, 3))])
    (path,) = export_annotation("coco", tmp_path / "cxr.json", scan, label_map, boxes, box_labels)

    document = json.loads(path.read_text())
    assert document["images"] == [{"id": 1, "file_name": "cxr.png", "height": 24, "width": 32}]
    assert document["categories"] == [
        {"id": 1, "name": "liver"},
        {"id": 2, "name": "lesion"},
        {"id": 3, "name": "nodule"},
    ]
    annotations = document["annotations"]
    ids = [a["id"] for a in annotations]
    assert len(set(ids)) == len(ids) == 6  # one box, two liver regions, three lesion regions
    images, categories = {i["id"] for i in document["images"]}, {c["id"] for c in document["categories"]}
    assert all(a["image_id"] in images and a["category_id"] in categories for a in annotations)
    box = next(a for a in annotations if "score" in a)
    assert box["bbox"] == [12.0, 1.0, 6.0, 5.0] and box["category_id"] == 3
    regions = [a for a in annotations if "segmentation" in a]
    assert sum(isinstance(a["segmentation"], dict) for a in regions) == 1  # only the ring needs RLE
    for value in (1, 2):
        union = np.zeros(array.shape, bool)
        for annotation in (a for a in regions if a["category_id"] == value):
            mask = _coco_mask(annotation, array.shape)
            assert annotation["area"] == mask.sum() and annotation["iscrowd"] == 0
            rows, columns = np.nonzero(mask)
            x, y, width, height = annotation["bbox"]
            assert (x, y, x + width, y + height) == (
                columns.min(),
                rows.min(),
                columns.max() + 1,
                rows.max() + 1,
            )
            union |= mask
        # exact: outlines run on pixel edges and cut corners diagonally, never through a pixel centre
        assert np.array_equal(union, array == value)


def _slide() -> Scan:
    level0 = np.zeros((80, 120, 3), np.uint8)
    return Scan(
        level0, Geometry.from_spacing((0.25, 0.25)), modality="SM", rgb=True, units="um",
        levels=(level0, level0[::2, ::2]), source="/data/slide.svs",
    )  # fmt: skip


def test_geojson_of_a_slide_level_is_in_level0_pixels_with_class_names(tmp_path):
    slide = _slide()
    array = np.zeros((40, 60), np.uint8)
    array[5:25, 5:30] = 1
    array[10:15, 10:15] = 0  # a hole
    array[30:35, 40:45] = 2
    label_map = LabelMap(array, Geometry.from_spacing((0.5, 0.5)), TABLE)
    (path,) = export_annotation("geojson", tmp_path / "slide.geojson", slide, label_map, level_downsample=2.0)

    document = json.loads(path.read_text())
    assert document["type"] == "FeatureCollection"
    names = [f["properties"]["classification"]["name"] for f in document["features"]]
    assert sorted(names) == ["lesion", "liver"]
    rows, columns = np.mgrid[0:40, 0:60]
    centres_x, centres_y = (columns + 0.5) * 2, (rows + 0.5) * 2  # the level's pixel centres, in level 0
    for feature in document["features"]:
        polygon = geojson_shape(feature["geometry"])
        assert polygon.is_valid
        value = 1 if feature["properties"]["classification"]["name"] == "liver" else 2
        inside = shapely.contains_xy(polygon, centres_x, centres_y)
        assert np.array_equal(inside, array == value)
        # a level pixel covers 4 level-0 pixels; each corner is cut (or, inside, filled) diagonally
        # by 1/8 level pixel, between two vertices of the outline once collinear points are dropped
        simple = polygon.simplify(0)
        vertices = len(simple.exterior.coords) - 1 + sum(len(ring.coords) - 1 for ring in simple.interiors)
        assert abs(polygon.area - 4 * (array == value).sum()) <= vertices / 2 * 4 / 8
    assert len(geojson_shape(document["features"][0]["geometry"]).interiors) == 1


def test_geojson_refuses_a_label_map_of_no_level_of_the_slide(tmp_path):
    slide = _slide()
    wrong = LabelMap(np.ones((30, 60), np.uint8), Geometry.from_spacing((0.5, 0.5)), TABLE)
    with pytest.raises(InputError, match=r"not that of the slide's level downsampled 2 times"):
        export_annotation("geojson", tmp_path / "s.geojson", slide, wrong, level_downsample=2.0)
    level = LabelMap(np.ones((40, 60), np.uint8), Geometry.from_spacing((0.5, 0.5)), TABLE)
    with pytest.raises(InputError, match=r"only GeoJSON of a multiscale slide"):
        export_annotation("coco", tmp_path / "s.json", slide, level, level_downsample=2.0)
    assert list(tmp_path.iterdir()) == []
