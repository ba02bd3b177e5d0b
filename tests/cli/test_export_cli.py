"""``medview export``: label maps, DICOM SEGs and box files written as each export format, read back with
SimpleITK, highdicom, pydicom and json; a refusal exits 2 with one line and writes nothing."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import SimpleITK as sitk
from pydicom import dcmread

from medview.annotations.nifti import save_nifti
from medview.annotations.seg import source_datasets, write_dicom_seg
from medview.cli.main import main
from medview.core.boxes import Box
from medview.core.geometry import Geometry
from medview.core.labels import LabelClass, LabelTable
from medview.core.scan import LabelMap, Scan
from medview.io import open_scan, write_scan
from medview.io.writers import write_boxes

TABLE = LabelTable([LabelClass(1, "liver", (200, 80, 60)), LabelClass(2, "lesion", (255, 220, 0))])


@pytest.fixture
def nifti_case(tmp_path) -> tuple[Path, Path, np.ndarray]:
    """A CT volume as NIfTI and its label map (as NIfTI with a sidecar), and the labels."""
    geometry = Geometry.from_spacing((2.0, 0.9, 0.8), (-40.0, 5.0, 12.0))
    scan_path = write_scan(
        Scan(np.zeros((4, 10, 12), np.int16), geometry, modality="CT"), tmp_path / "ct.nii.gz"
    )
    array = np.zeros((4, 10, 12), np.uint8)
    array[1:3, 2:6, 3:8] = 1
    array[3, 7, 9] = 2
    labels_path = save_nifti(LabelMap(array, geometry, TABLE), tmp_path / "ct-labels.nii.gz")
    return scan_path, labels_path, array


def _files(folder: Path) -> set[str]:
    return {path.name for path in folder.iterdir()}


def test_label_map_to_slicer_segmentation(nifti_case, tmp_path, capsys):
    scan_path, labels_path, array = nifti_case
    out = tmp_path / "out" / "ct.seg.nrrd"
    assert main(["export", str(labels_path), "--scan", str(scan_path), "-o", str(out)]) == 0
    assert capsys.readouterr().out.splitlines() == [f"wrote {out}"]
    image = sitk.ReadImage(str(out))
    assert np.array_equal(sitk.GetArrayFromImage(image), array)
    assert np.allclose(image.GetOrigin(), (12.0, 5.0, -40.0)) and np.allclose(
        image.GetSpacing(), (0.8, 0.9, 2.0)
    )
    assert [image.GetMetaData(f"Segment{i}_Name") for i in range(2)] == ["liver", "lesion"]


def test_nifti_scan_to_seg_with_a_dicom_copy(nifti_case, tmp_path, capsys):
    import highdicom as hd

    scan_path, labels_path, array = nifti_case
    out, copy = tmp_path / "ct-seg.dcm", tmp_path / "ct-dicom"
    args = ["export", str(labels_path), "--scan", str(scan_path), "-o", str(out), "--dicom-copy", str(copy)]
    assert main([*args, "--seg-type", "binary"]) == 0
    assert capsys.readouterr().out.splitlines() == [f"wrote {out}", f"wrote {copy}"]
    sources = sorted((dcmread(p) for p in copy.iterdir()), key=lambda d: int(d.InstanceNumber))
    seg = hd.seg.segread(out)
    assert seg.SegmentationType == "BINARY"
    assert [s.SegmentLabel for s in seg.SegmentSequence] == ["liver", "lesion"]
    pixels = seg.get_pixels_by_source_instance([d.SOPInstanceUID for d in sources], combine_segments=True)
    assert np.array_equal(pixels, array)


def test_dicom_seg_to_nifti_and_label_map_to_rtstruct_of_a_dicom_series(tmp_path, capsys, monkeypatch):
    monkeypatch.syspath_prepend(Path(__file__).parents[1] / "annotations")
    from dicom_files import write_ct_series

    series = write_ct_series(tmp_path / "ct", np.zeros((4, 16, 18), np.int16))
    scan = open_scan(series)
    array = np.zeros(scan.spatial_shape, np.uint8)
    array[1:3, 4:10, 5:12] = 2
    seg_path = write_dicom_seg(
        LabelMap(array, scan.geometry, TABLE), source_datasets(scan), tmp_path / "seg.dcm"
    )

    out = tmp_path / "from-seg.nii.gz"
    assert main(["export", str(seg_path), "--scan", str(series), "-o", str(out)]) == 0
    assert capsys.readouterr().out.splitlines() == [
        f"wrote {out}",
        f"wrote {tmp_path / 'from-seg.labels.json'}",
    ]
    assert np.array_equal(sitk.GetArrayFromImage(sitk.ReadImage(str(out))), array)

    rs = tmp_path / "rs.dcm"
    assert main(["export", str(out), "--scan", str(series), "--format", "rtstruct", "-o", str(rs)]) == 0
    ds = dcmread(rs)
    assert ds.Modality == "RTSTRUCT" and [r.ROIName for r in ds.StructureSetROISequence] == [
        "liver",
        "lesion",
    ]
    liver, lesion = ds.ROIContourSequence  # the table's classes survive the SEG, drawn or not
    assert len(liver.ContourSequence) == 0 and len(lesion.ContourSequence) == 2  # one outline per slice
    referenced = (
        ds.ReferencedFrameOfReferenceSequence[0].RTReferencedStudySequence[0].RTReferencedSeriesSequence
    )
    assert referenced[0].SeriesInstanceUID == scan.metadata["series_uid"]


def test_boxes_of_a_radiograph_to_coco(tmp_path, capsys):
    scan_path = write_scan(
        Scan(np.zeros((40, 50), np.uint16), Geometry.from_spacing((0.2, 0.2))), tmp_path / "cxr.dcm"
    )
    labels = LabelTable([LabelClass(1, "nodule", (255, 120, 0))])
    boxes_path = write_boxes([Box(1, 0.8, (5.0, 10.0), (12.0, 30.0))], tmp_path / "boxes.json", labels)
    out = tmp_path / "coco.json"
    assert main(["export", str(boxes_path), "--scan", str(scan_path), "-o", str(out)]) == 0
    document = json.loads(out.read_text())
    assert document["images"] == [{"id": 1, "file_name": "cxr.dcm", "height": 40, "width": 50}]
    assert document["categories"] == [{"id": 1, "name": "nodule"}]
    (annotation,) = document["annotations"]
    assert annotation["bbox"] == [10.0, 5.0, 20.0, 7.0] and annotation["image_id"] == 1


def _refused(args: list[str], capsys) -> str:
    assert main(args) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    (line,) = captured.err.splitlines()
    return line


def test_png_mask_of_a_slide_to_geojson_takes_the_slide_calibration(tmp_path, capsys):
    from PIL import Image

    tile = Scan(np.full((64, 80, 3), 200, np.uint8), Geometry.from_spacing((0.5, 0.5)), rgb=True, units="um")
    slide = write_scan(tile, tmp_path / "tile.tif")
    mask = np.zeros((64, 80), np.uint8)
    mask[10:20, 30:50] = 1
    Image.fromarray(mask).save(tmp_path / "mask.png")  # a picture: no geometry of its own

    code = main(
        ["export", str(tmp_path / "mask.png"), "--scan", str(slide), "-o", str(tmp_path / "m.geojson")]
    )

    assert code == 0 and capsys.readouterr().err == ""
    (feature,) = json.loads((tmp_path / "m.geojson").read_text())["features"]
    ring = np.asarray(feature["geometry"]["coordinates"][0])
    assert (ring[:, 0].min(), ring[:, 0].max(), ring[:, 1].min(), ring[:, 1].max()) == (30, 50, 10, 20)


def test_refusals_exit_2_with_one_line_and_write_nothing(nifti_case, tmp_path, capsys):
    scan_path, labels_path, _ = nifti_case
    before = _files(tmp_path)
    common = ["export", str(labels_path), "--scan", str(scan_path), "-o"]

    line = _refused([*common, str(tmp_path / "x.json")], capsys)
    assert line == (
        f"medview: error: {tmp_path / 'x.json'}: COCO holds boxes and outlines of 2D images; this annotation "
        "is 3D — export it as NIfTI, NRRD or DICOM SEG"
    )
    line = _refused([*common, str(tmp_path / "x.dcm")], capsys)
    assert "this scan was opened from ct.nii.gz, not DICOM" in line and "--dicom-copy" in line
    line = _refused([*common, str(tmp_path / "x.png")], capsys)
    assert "cannot tell the export format from the name" in line
    other = save_nifti(
        LabelMap(np.zeros((4, 10, 11), np.uint8), Geometry.identity(3)), tmp_path / "other.nii.gz"
    )
    before |= {"other.nii.gz", "other.labels.json"}
    _refused(["export", str(other), "--scan", str(scan_path), "-o", str(tmp_path / "x.seg.nrrd")], capsys)
    assert _files(tmp_path) == before
