import json

import numpy as np
import pytest
from napari.components import ViewerModel
from qtpy.QtCore import Qt
from qtpy.QtWidgets import QPushButton

from medview.annotations.autosave import find_drafts, write_draft
from medview.annotations.nifti import load_nifti
from medview.core.scan import LabelMap
from medview.qt.bridge import LABEL_MAP_KEY, add_label_map, add_scan, label_map_layer_data
from medview.qt.widgets.annotation_panel import CASE_KEY, SHORTCUTS, AnnotationPanel
from medview.workspace import Workspace

pytestmark = pytest.mark.gui


@pytest.fixture
def viewer_with_panel(qtbot, small_ct):
    viewer = ViewerModel()
    add_scan(viewer, small_ct.scan)
    panel = AnnotationPanel(viewer)
    qtbot.addWidget(panel)
    return viewer, panel


def _button(panel, text):
    return next(b for b in panel.findChildren(QPushButton) if b.text() == text)


def _click(qtbot, panel, text):
    qtbot.mouseClick(_button(panel, text), Qt.MouseButton.LeftButton)


def _new_annotation(qtbot, panel, preset="liver-lesion"):
    panel._labels._preset.setCurrentText(preset)
    _click(qtbot, panel, "New annotation")
    return panel.layer


def test_paint_undo_interpolate_save_close_reopen(qtbot, viewer_with_panel, small_ct, tmp_path):
    viewer, panel = viewer_with_panel
    layer = _new_annotation(qtbot, panel)
    assert [panel._labels._table.item(r, 1).text() for r in range(panel._labels._table.rowCount())] == [
        "liver",
        "lesion",
    ]
    panel._labels._table.setCurrentCell(1, 1)
    assert layer.selected_label == 2
    panel._radius.setValue(8.0)  # 8 mm on 3.2 mm pixels: a brush 5 pixels across
    assert layer.brush_size == 5
    layer.paint((10, 32, 32), 2)  # napari's own brush, as a mouse stroke would
    qtbot.waitUntil(lambda: panel.editor.history.can_undo)
    assert np.count_nonzero(layer.data == 2) > 0 and layer._undo_history == type(layer._undo_history)()
    painted = layer.data.copy()
    _click(qtbot, panel, "Undo")
    assert not layer.data.any()
    _click(qtbot, panel, "Redo")
    assert np.array_equal(layer.data, painted)
    layer.paint((20, 32, 32), 2)
    qtbot.waitUntil(lambda: panel.editor.revision == 4)
    _click(qtbot, panel, "Interpolate slices")
    qtbot.waitUntil(lambda: not panel.task_bar.busy)
    assert all(np.any(layer.data[k] == 2) for k in range(10, 21))
    assert "Interpolated" in panel.status
    expected = layer.data.copy()
    panel.save(tmp_path / "truth.nii.gz")
    qtbot.waitUntil(lambda: not panel.task_bar.busy)
    saved = tmp_path / "truth.nii.gz"
    assert saved.exists() and panel.status == f"Saved {saved}"

    viewer.layers.remove(layer)
    panel.close()
    reopened = AnnotationPanel(viewer)
    qtbot.addWidget(reopened)
    label_map = load_nifti(saved, small_ct.scan)
    add_label_map(viewer, label_map)
    assert reopened.layer is not None
    assert np.array_equal(reopened.layer.data, expected)
    assert label_map.labels.name_of(2) == "lesion" and label_map.provenance.source == "user"


def test_brush_limited_to_intensity_range(qtbot, viewer_with_panel, small_ct):
    viewer, panel = viewer_with_panel
    layer = _new_annotation(qtbot, panel)
    panel._limit.setChecked(True)
    panel._low.setValue(-50)
    panel._high.setValue(150)
    panel._radius.setValue(40.0)
    layer.paint((20, 32, 32), 1)
    qtbot.waitUntil(lambda: panel.editor.history.can_undo)
    painted = layer.data == 1
    values = np.asarray(small_ct.scan.array)[painted]
    assert painted.any() and values.min() >= -50 and values.max() <= 150
    yy, xx = np.mgrid[:64, :64]
    near = np.hypot(yy - 32, xx - 32) <= 10  # well inside the 12.5-pixel brush
    scan_slice = np.asarray(small_ct.scan.array)[20]
    out_of_window = near & ((scan_slice < -50) | (scan_slice > 150))
    assert out_of_window.any() and not layer.data[20][out_of_window].any()
    assert np.all(layer.data[20][near & ~out_of_window] == 1)


def test_remove_islands_and_label_table_editing(qtbot, viewer_with_panel):
    viewer, panel = viewer_with_panel
    layer = _new_annotation(qtbot, panel, "lung-nodule")
    layer.data[5, 5, 5] = 1
    layer.data[5, 20:30, 20:30] = 1
    panel._islands.setValue(5)
    _click(qtbot, panel, "Remove islands")
    qtbot.waitUntil(lambda: not panel.task_bar.busy)
    assert layer.data[5, 5, 5] == 0 and layer.data[5, 25, 25] == 1
    _click(qtbot, panel, "Add class")
    panel._labels._table.item(1, 1).setText("vessel")
    table = layer.metadata[LABEL_MAP_KEY].labels
    assert table.name_of(2) == "vessel"
    panel._labels._table.item(1, 1).setText("nodule")  # names are unique: refused, table unchanged
    assert "already used" in panel.status and table.name_of(2) == "vessel"


def test_tooltips_show_shortcuts(viewer_with_panel):
    _, panel = viewer_with_panel
    for text, key in (
        ("Paint", "paint"),
        ("Erase", "erase"),
        ("Fill", "fill"),
        ("Undo", "undo"),
        ("Save", "save"),
    ):
        assert f"({SHORTCUTS[key]})" in _button(panel, text).toolTip()


def test_draft_is_offered_not_applied_then_recovered(qtbot, tmp_path, small_ct):
    scan_file = tmp_path / "ct.nii.gz"
    from medview.io import write_scan

    write_scan(small_ct.scan, scan_file)
    workspace = Workspace.create(tmp_path / "ws")
    case = workspace.add_case(scan_file)
    draft_array = np.zeros(small_ct.scan.spatial_shape, dtype=np.uint8)
    draft_array[3, 4:8, 4:8] = 1
    write_draft(LabelMap(draft_array, small_ct.scan.geometry), workspace.drafts_directory, case.id)

    viewer = ViewerModel()
    add_scan(viewer, small_ct.scan)
    panel = AnnotationPanel(viewer)
    qtbot.addWidget(panel)
    data, kwargs, _ = label_map_layer_data(LabelMap(np.zeros_like(draft_array), small_ct.scan.geometry))
    kwargs["metadata"][CASE_KEY] = {"workspace": str(workspace.directory), "case_id": case.id}
    layer = viewer.add_labels(data, **kwargs)
    assert panel.layer is layer
    assert panel.drafts.isVisibleTo(panel) and not layer.data.any()
    _click(qtbot, panel, "Recover")
    assert np.array_equal(layer.data, draft_array) and not panel.drafts.isVisibleTo(panel)
    _click(qtbot, panel, "Undo")  # recovering is an ordinary, undoable edit
    assert not layer.data.any()
    _click(qtbot, panel, "Redo")
    _click(qtbot, panel, "Boxes")
    boxes = viewer.layers.selection.active
    assert boxes.mode == "add_rectangle"
    boxes.add_rectangles(np.array([[3, 4.5, 4.5], [3, 4.5, 9.5], [3, 7.5, 9.5], [3, 7.5, 4.5]]))
    panel.save()
    qtbot.waitUntil(lambda: not panel.task_bar.busy)
    assert workspace.case(case.id).status == "in_progress"
    (box_version,) = workspace.annotations(case.id, "boxes")
    (saved_box,) = json.loads(box_version.path.read_text())["boxes"]
    assert saved_box["start"] == [3.0, 5.0, 5.0] and saved_box["stop"] == [4.0, 8.0, 10.0]
    assert find_drafts(workspace.drafts_directory) == []
    assert np.array_equal(workspace.latest_labels(case.id).array, draft_array)


@pytest.mark.parametrize(("units", "suffix"), [("mm", " mm"), ("pixel", " px"), ("um", " µm")])
def test_brush_radius_reads_in_the_scan_units(qtbot, small_radiograph, units, suffix):
    import dataclasses

    scan = dataclasses.replace(small_radiograph.scan, units=units)
    viewer = ViewerModel()
    add_scan(viewer, scan)
    panel = AnnotationPanel(viewer)
    qtbot.addWidget(panel)
    _new_annotation(qtbot, panel, preset="lung-nodule")
    assert panel._radius.suffix() == suffix
