"""Annotations in and out of the window through its menus: File > Open segmentation lays a label map
over the open DICOM CT (a mismatched one is refused saying what differs), and File > Export
annotation writes DICOM SEG, RTSTRUCT, NRRD, NIfTI, COCO and GeoJSON that the field's own readers
read back with the same voxels, boxes and names."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import highdicom as hd
import numpy as np
import pydicom
import pytest
import SimpleITK as sitk
from napari.layers import Labels
from qtpy.QtCore import Qt
from qtpy.QtWidgets import QFileDialog
from window_input import drop_on_canvas, menu_action, submenu_action

from medview.core.labels import LabelClass, LabelTable

pytestmark = pytest.mark.gui
sys.path.insert(0, str(Path(__file__).parents[1] / "annotations"))

from dicom_files import write_ct_series  # noqa: E402

SHAPE = (6, 16, 20)  # slices, rows, columns


@pytest.fixture
def dialog_paths(monkeypatch) -> dict[str, Path]:
    """File dialogs answer with the path set under ``"open"`` or ``"save"``."""
    paths: dict[str, Path] = {}
    monkeypatch.setattr(
        QFileDialog, "getOpenFileName", staticmethod(lambda *a, **k: (str(paths["open"]), ""))
    )
    monkeypatch.setattr(
        QFileDialog, "getSaveFileName", staticmethod(lambda *a, **k: (str(paths["save"]), ""))
    )
    return paths


def wait_idle(qtbot, window) -> None:
    qtbot.waitUntil(lambda: not window.task_bar.busy, timeout=30_000)


@pytest.fixture
def dicom_ct(qtbot, main_window, tmp_path) -> Path:
    """A CT series written with pydicom, open in the window."""
    volume = np.random.default_rng(0).integers(-1000, 1000, size=SHAPE).astype(np.int16)
    folder = write_ct_series(tmp_path / "ct", volume)
    main_window.open_path(folder)
    wait_idle(qtbot, main_window)
    return folder


def label_file(
    tmp_path: Path, window, flip_x: bool = False, shift_mm: float = 0.0
) -> tuple[Path, np.ndarray]:
    """A label map on the open scan's grid written by SimpleITK (optionally mirrored or shifted)."""
    scan = window.scan_layer.metadata["medview_scan"]
    array = np.zeros(SHAPE, np.uint8)
    array[1:3, 2:6, 3:9] = 1
    array[4, 8:14, 10:15] = 2
    image = sitk.GetImageFromArray(array)
    image.SetSpacing(scan.geometry.spacing[::-1])
    origin = np.asarray(scan.geometry.origin[::-1], float) + [shift_mm, 0, 0]
    image.SetOrigin(tuple(origin))
    image.SetDirection(scan.geometry.direction[::-1, ::-1].ravel().tolist())
    if flip_x:  # the same voxels stored right-to-left: x direction negated, origin at the far end
        image = sitk.GetImageFromArray(array[:, :, ::-1].copy())
        image.SetSpacing(scan.geometry.spacing[::-1])
        origin[0] += (SHAPE[2] - 1) * scan.geometry.spacing[2]
        image.SetOrigin(tuple(origin))
        image.SetDirection((-1.0, 0.0, 0.0, 0.0, 1.0, 0.0, 0.0, 0.0, 1.0))
    path = tmp_path / ("mirrored.nii.gz" if flip_x else f"labels{shift_mm:g}.nii.gz")
    sitk.WriteImage(image, str(path))
    return path, array


def test_open_segmentation_lays_a_label_map_over_the_dicom_ct(
    qtbot, main_window, dicom_ct, dialog_paths, tmp_path, errors
):
    path, array = label_file(tmp_path, main_window)
    dialog_paths["open"] = path
    menu_action(main_window, "File", "Open segmentation…").trigger()
    wait_idle(qtbot, main_window)

    assert errors == []
    scan_layer, labels = main_window.viewer.layers
    assert isinstance(labels, Labels) and np.array_equal(labels.data, array)
    colours = labels.colormap.color_dict
    assert not np.allclose(colours[1], colours[2])  # no colour table in the file: two colours
    assert main_window.panels["Annotate"].layer is labels  # opened to work on: it is the target


def test_a_mirrored_label_map_is_refused_saying_so_then_resampled(
    qtbot, main_window, dicom_ct, tmp_path, errors, monkeypatch
):
    path, array = label_file(tmp_path, main_window, flip_x=True)
    offered: list[str] = []
    answers = iter([False, True])
    monkeypatch.setattr(
        main_window.files, "ask_resample", lambda p, text: offered.append(text) or next(answers)
    )
    main_window.files.open_segmentation(path)
    wait_idle(qtbot, main_window)
    assert "mirrored left-right" in offered[0] and "shift" not in offered[0]
    assert len(main_window.viewer.layers) == 1  # declined: nothing added

    main_window.files.open_segmentation(path)
    wait_idle(qtbot, main_window)
    qtbot.waitUntil(lambda: len(main_window.viewer.layers) == 2, timeout=10_000)
    assert errors == [] and np.array_equal(main_window.viewer.layers[1].data, array)


def test_a_label_map_of_another_size_is_refused_in_x_y_z(qtbot, main_window, dicom_ct, tmp_path, errors):
    path = tmp_path / "small.nii.gz"
    image = sitk.GetImageFromArray(np.zeros((3, 16, 20), np.uint8))
    image.SetOrigin((500.0, 500.0, 500.0))  # nowhere near the scan: nothing to resample
    sitk.WriteImage(image, str(path))
    main_window.files.open_segmentation(path)
    wait_idle(qtbot, main_window)

    ((title, text),) = errors
    assert path.name in title and "(x, y, z)" in text and "Geometry(" not in text
    assert len(main_window.viewer.layers) == 1


def test_a_shifted_label_map_offers_resampling(qtbot, main_window, dicom_ct, tmp_path, errors, monkeypatch):
    path, array = label_file(tmp_path, main_window, shift_mm=1.4)  # two columns of 0.7 mm
    offered: list[str] = []
    monkeypatch.setattr(main_window.files, "ask_resample", lambda p, text: offered.append(text) or True)
    drop_on_canvas(main_window, path, Qt.KeyboardModifier.ShiftModifier)  # Shift+drop: over the scan
    wait_idle(qtbot, main_window)
    qtbot.waitUntil(lambda: len(main_window.viewer.layers) == 2, timeout=10_000)

    assert errors == [] and "shifted by 1.40 mm" in offered[0]
    resampled = main_window.viewer.layers[1].data
    assert np.array_equal(resampled[:, :, 2:], array[:, :, :-2])


def test_paint_then_export_seg_rtstruct_nrrd_and_nifti_read_back(
    qtbot, main_window, dicom_ct, dialog_paths, tmp_path, errors
):
    annotate = main_window.panels["Annotate"]
    layer = annotate.new_annotation()
    annotate.editor.label_map.labels = LabelTable(
        [LabelClass(1, "liver", (200, 80, 60)), LabelClass(2, "lesion", (255, 220, 0))]
    )
    layer.data[2, 3:9, 4:12] = 1
    layer.data[3, 10:14, 12:18] = 2
    expected = layer.data.copy()
    datasets = sorted(
        (pydicom.dcmread(p, stop_before_pixels=True) for p in dicom_ct.iterdir()),
        key=lambda d: float(d.ImagePositionPatient[2]),
    )

    for title, name in (
        ("DICOM SEG…", "seg.dcm"),
        ("DICOM RTSTRUCT…", "rt.dcm"),
        ("NRRD (3D Slicer segmentation)…", "labels.seg.nrrd"),
        ("NIfTI + label table…", "labels.nii.gz"),
    ):
        dialog_paths["save"] = tmp_path / name
        submenu_action(main_window, "File", "Export annotation", title).trigger()
        wait_idle(qtbot, main_window)
    assert errors == []

    seg = hd.seg.segread(tmp_path / "seg.dcm")
    assert [item.SegmentLabel for item in seg.SegmentSequence] == ["liver", "lesion"]
    pixels = seg.get_pixels_by_source_instance([d.SOPInstanceUID for d in datasets], combine_segments=True)
    assert np.array_equal(pixels, expected)

    rt = pydicom.dcmread(tmp_path / "rt.dcm")
    assert [roi.ROIName for roi in rt.StructureSetROISequence] == ["liver", "lesion"]
    slice_of = {d.SOPInstanceUID: index for index, d in enumerate(datasets)}
    outlined = {
        (roi.ReferencedROINumber, slice_of[contour.ContourImageSequence[0].ReferencedSOPInstanceUID])
        for roi in rt.ROIContourSequence
        for contour in roi.ContourSequence
    }
    assert outlined == {(1, 2), (2, 3)}

    nrrd = sitk.ReadImage(str(tmp_path / "labels.seg.nrrd"))
    assert np.array_equal(sitk.GetArrayFromImage(nrrd), expected)
    names = {nrrd.GetMetaData(f"Segment{i}_Name") for i in range(2)}
    assert names == {"liver", "lesion"}
    nifti = sitk.ReadImage(str(tmp_path / "labels.nii.gz"))
    assert np.array_equal(sitk.GetArrayFromImage(nifti), expected)
    assert np.allclose(nifti.GetSpacing(), (0.7, 0.8, 2.5))
    sidecar = json.loads((tmp_path / "labels.labels.json").read_text())
    assert [c["name"] for c in sidecar["labels"]["classes"]] == ["liver", "lesion"]


def test_seg_of_a_scan_that_is_not_dicom_writes_a_dicom_copy_first(
    qtbot, main_window, small_ct, dialog_paths, tmp_path, errors, monkeypatch
):
    main_window.show_case(small_ct)
    annotate = main_window.panels["Annotate"]
    layer = annotate.new_annotation()
    layer.data[10, 20:30, 20:30] = 1
    asked: list[str] = []
    copy = tmp_path / "copy"
    monkeypatch.setattr(main_window.files, "ask_dicom_copy", lambda reason: asked.append(reason) or copy)
    dialog_paths["save"] = tmp_path / "seg.dcm"
    submenu_action(main_window, "File", "Export annotation", "DICOM SEG…").trigger()
    wait_idle(qtbot, main_window)

    assert errors == [] and "not DICOM" in asked[0]
    seg = hd.seg.segread(tmp_path / "seg.dcm")
    copied = {pydicom.dcmread(p, stop_before_pixels=True).SOPInstanceUID for p in copy.iterdir()}
    referenced = {str(uid) for _, _, uid in seg.get_source_image_uids()}
    assert referenced <= copied and len(copied) == small_ct.scan.spatial_shape[0]


def test_boxes_on_a_radiograph_export_as_coco(qtbot, main_window, small_radiograph, dialog_paths, tmp_path):
    main_window.show_case(small_radiograph)
    for layer in list(main_window.viewer.layers)[1:]:
        main_window.viewer.layers.remove(layer)  # only the user's boxes
    annotate = main_window.panels["Annotate"]
    annotate.add_boxes_layer()
    boxes = main_window.viewer.layers.selection.active
    boxes.add_rectangles(np.array([[9.5, 19.5], [9.5, 49.5], [29.5, 49.5], [29.5, 19.5]]))
    dialog_paths["save"] = tmp_path / "boxes.json"
    submenu_action(main_window, "File", "Export annotation", "COCO (boxes and outlines)…").trigger()
    wait_idle(qtbot, main_window)

    document = json.loads((tmp_path / "boxes.json").read_text())
    (image,) = document["images"]
    assert (image["height"], image["width"]) == small_radiograph.scan.spatial_shape
    (box,) = [item for item in document["annotations"] if "segmentation" not in item or item.get("bbox")][:1]
    assert box["bbox"] == [20.0, 10.0, 30.0, 20.0]  # x, y, width, height in pixels
    category = {c["id"]: c["name"] for c in document["categories"]}[box["category_id"]]
    assert category == annotate.editor.label_map.labels.name_of(box["category_id"])


def test_regions_on_a_slide_export_as_qupath_geojson(qtbot, main_window, small_tile, dialog_paths, tmp_path):
    main_window.show_case(small_tile)
    annotate = main_window.panels["Annotate"]
    layer = annotate.new_annotation()
    layer.data[40:60, 100:130] = 1
    dialog_paths["save"] = tmp_path / "regions.geojson"
    submenu_action(main_window, "File", "Export annotation", "GeoJSON (QuPath)…").trigger()
    wait_idle(qtbot, main_window)

    (feature,) = json.loads((tmp_path / "regions.geojson").read_text())["features"]
    ring = np.asarray(feature["geometry"]["coordinates"][0])
    assert (ring[:, 0].min(), ring[:, 0].max(), ring[:, 1].min(), ring[:, 1].max()) == (100, 130, 40, 60)
    assert feature["properties"]["classification"]["name"] == annotate.editor.label_map.labels.name_of(1)


def test_the_open_dialog_ticks_segmentation_for_a_label_map_and_lays_it_over(
    qtbot, main_window, dicom_ct, tmp_path, errors, monkeypatch
):
    from qtpy.QtWidgets import QCheckBox, QDialog

    from medview.qt.open_dialog import SEGMENTATION_TEXT

    path, array = label_file(tmp_path, main_window)
    seen: list[bool] = []

    def exec_(dialog) -> int:  # the user points at the label map, sees the box ticked, presses Open
        box = next(b for b in dialog.findChildren(QCheckBox) if b.text() == SEGMENTATION_TEXT)
        seen.append(box.isChecked())
        dialog.selectFile(str(path))
        dialog.currentChanged.emit(str(path))
        seen.append(box.isChecked())
        monkeypatch.setattr(dialog, "selectedFiles", lambda: [str(path)])
        return QDialog.DialogCode.Accepted

    monkeypatch.setattr(QFileDialog, "exec", exec_)
    menu_action(main_window, "File", "Open file…").trigger()
    wait_idle(qtbot, main_window)
    qtbot.waitUntil(lambda: len(main_window.viewer.layers) == 2, timeout=10_000)

    assert seen == [False, True] and errors == []  # ticked for a uint8 label map, not beforehand
    assert np.array_equal(main_window.viewer.layers[1].data, array)
    assert main_window.scan_layer.metadata["medview_scan"].source == str(dicom_ct)
