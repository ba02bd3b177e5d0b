"""The Metrics panel offers only layers on the open scan's grid, never picks one layer as both the
prediction and the truth, and refuses to compare layers on different grids, saying what differs."""

from __future__ import annotations

import numpy as np
import pytest
from napari.components import ViewerModel
from qtpy.QtCore import Qt

from medview.core.boxes import Box
from medview.core.geometry import Geometry
from medview.core.labels import preset
from medview.core.provenance import Provenance
from medview.core.scan import LabelMap
from medview.demo import make_ct, make_radiograph
from medview.qt.bridge import add_boxes, add_label_map, add_scan
from medview.qt.widgets.metrics_panel import MetricsPanel

pytestmark = pytest.mark.gui
HINT = "Run a model or open a second annotation to compare."


def offered(box) -> list[str]:
    return [box.itemText(i) for i in range(box.count())]


def click(qtbot, button) -> None:
    qtbot.mouseClick(button, Qt.MouseButton.LeftButton)


def prediction_of(truth: LabelMap, model: str = "net", shift: int = 2) -> LabelMap:
    """A model's output on the truth's grid: the truth moved by ``shift`` voxels along x."""
    array = np.roll(truth.array, shift, axis=2)
    return LabelMap(array, truth.geometry, truth.labels, Provenance.predicted(model, "1"))


@pytest.fixture
def ct_window(main_window):
    main_window.show_case(make_ct(0, shape=(20, 32, 32)))
    return main_window


def test_only_the_open_scans_label_maps_are_offered(qtbot, ct_window):
    viewer, panel = ct_window.viewer, ct_window.panels["Metrics"]
    truth = viewer.layers["ground truth"].metadata["medview_label_map"]
    add_label_map(viewer, prediction_of(truth), name="net 1")
    other = make_ct(1, shape=(12, 24, 24))  # a second scan and its label map, by hand
    add_scan(viewer, other.scan)
    add_label_map(viewer, prediction_of(other.truth), name="net 1 on the other scan")
    for box in (panel._pred, panel._truth):
        assert offered(box) == ["ground truth", "net 1"]
    assert offered(panel._compare) == ["(none)", "ground truth", "net 1"]
    assert (panel._pred.currentText(), panel._truth.currentText()) == ("net 1", "ground truth")
    panel.choose("net 1 on the other scan", "ground truth")  # not offered: nothing changes
    assert panel._pred.currentText() == "net 1"


def test_only_the_open_scans_boxes_are_offered_detector_boxes_as_prediction(qtbot, main_window):
    case = make_radiograph(0)
    main_window.show_case(case)
    viewer, panel = main_window.viewer, main_window.panels["Metrics"]
    detected = [Box(b.label, 0.8, b.start, b.stop) for b in case.boxes]
    add_boxes(viewer, detected, case.box_labels, case.scan.geometry, "detector 1")
    elsewhere = Geometry.from_spacing((0.5, 0.5))
    add_boxes(viewer, detected, case.box_labels, elsewhere, "boxes of another image")
    assert offered(panel._truth) == ["ground truth boxes", "detector 1"]
    assert (panel._pred.currentText(), panel._truth.currentText()) == ("detector 1", "ground truth boxes")


def test_a_demo_ct_alone_is_not_compared_with_itself_until_a_model_runs(qtbot, ct_window):
    viewer, panel = ct_window.viewer, ct_window.panels["Metrics"]
    assert panel._truth.currentText() == "ground truth"
    assert panel._pred.currentText() == ""
    assert panel._status.text() == HINT
    click(qtbot, panel._evaluate_button)
    assert panel.table.rowCount() == 0 and panel._status.text() == HINT

    truth = viewer.layers["ground truth"].metadata["medview_label_map"]
    add_label_map(viewer, prediction_of(truth), name="net 1")  # the model's output arrives
    assert (panel._pred.currentText(), panel._truth.currentText()) == ("net 1", "ground truth")
    assert panel._status.text() == ""
    click(qtbot, panel._evaluate_button)
    assert panel._status.text() == "net 1 against ground truth"
    header, *rows = panel.table_rows()
    dice = {row[0]: row[header.index("Dice")] for row in rows}
    assert set(dice) == {label.name for label in truth.labels if label.value in truth.present_values()}
    assert all(float(value) < 1 for value in dice.values())  # moved by two voxels: no perfect overlap

    viewer.layers.remove("net 1")
    assert panel._pred.currentText() == "" and panel._status.text() == HINT


def test_a_fresh_panel_on_layers_already_open_picks_two_different_layers(qtbot):
    viewer = ViewerModel()
    case = make_ct(0, shape=(12, 24, 24))
    add_scan(viewer, case.scan)
    add_label_map(viewer, case.truth, name="ground truth")
    panel = MetricsPanel(viewer)
    qtbot.addWidget(panel)
    assert (panel._pred.currentText(), panel._truth.currentText()) == ("", "ground truth")
    assert panel._status.text() == HINT

    drawn = LabelMap(case.truth.array.copy(), case.truth.geometry, case.truth.labels, Provenance.drawn())
    add_label_map(viewer, drawn, name="my annotation")
    assert (panel._pred.currentText(), panel._truth.currentText()) == ("my annotation", "ground truth")


def test_the_users_choice_is_kept_when_another_layer_arrives(qtbot, ct_window):
    viewer, panel = ct_window.viewer, ct_window.panels["Metrics"]
    truth = viewer.layers["ground truth"].metadata["medview_label_map"]
    add_label_map(viewer, prediction_of(truth, "net"), name="net 1")
    add_label_map(viewer, prediction_of(truth, "other"), name="other 1")
    assert panel._pred.currentText() == "other 1"  # the newest model output
    index = panel._pred.findText("net 1")
    panel._pred.setCurrentIndex(index)
    panel._pred.activated.emit(index)  # what choosing it in the list does
    add_label_map(viewer, prediction_of(truth, "third"), name="third 1")
    assert (panel._pred.currentText(), panel._truth.currentText()) == ("net 1", "ground truth")


GRID = Geometry.from_spacing((2.5, 0.8, 0.8), origin=(10.0, -5.0, 3.0))


@pytest.mark.parametrize(
    ("shape", "geometry", "difference"),
    [
        ((12, 30, 40), GRID, "shape (x, y, z): 30 × 30 × 12 against 40 × 30 × 12"),
        ((12, 30, 30), Geometry.from_spacing((2.5, 1.0, 1.0), (10.0, -5.0, 3.0)), "spacing (x, y, z): "
         "0.8 × 0.8 × 2.5 against 1 × 1 × 2.5"),
        ((12, 30, 30), Geometry.from_spacing((2.5, 0.8, 0.8)), "position or orientation (origin (x, y, z): "
         "3, -5, 10 against 0, 0, 0)"),
        ((30, 30), Geometry.from_spacing((0.8, 0.8)), "dimension: 3-D against 2-D"),
    ],
)  # fmt: skip
def test_layers_on_different_grids_are_refused_naming_both(qtbot, shape, geometry, difference):
    viewer = ViewerModel()  # no scan open: every label map is offered
    labels = preset("liver-lesion")
    truth = np.zeros(shape, np.uint8)
    truth[..., 5:15, 5:15] = 1
    pred = np.zeros((12, 30, 30), np.uint8)
    pred[2:8, 5:15, 5:15] = 1
    add_label_map(viewer, LabelMap(pred, GRID, labels, Provenance.predicted("net", "1")), name="net 1")
    add_label_map(viewer, LabelMap(truth, geometry, labels), name="truth")
    panel = MetricsPanel(viewer)
    qtbot.addWidget(panel)
    panel.show()
    assert (panel._pred.currentText(), panel._truth.currentText()) == ("net 1", "truth")
    click(qtbot, panel._evaluate_button)
    expected = f"Cannot compare “net 1” with “truth”: their voxel grids differ in {difference}."
    assert panel._status.text() == expected
    assert panel.table.rowCount() == 0
