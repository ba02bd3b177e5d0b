"""The Metrics panel reads well for a radiologist: units on every distance and size, a confusion matrix
whose digits never collide, rows and plot points that go to slices, sensible defaults, boxes drawn for
review with a live score threshold, partial annotations scored on their annotated slices, and plots
saved as files. Each test checks what is drawn or shown, not only that a slot ran."""

from __future__ import annotations

from itertools import combinations

import numpy as np
import pytest
from napari.components import ViewerModel
from qtpy.QtCore import Qt

from medview.core.boxes import Box
from medview.core.geometry import Geometry
from medview.core.labels import LabelClass, LabelTable, preset
from medview.core.provenance import Provenance
from medview.core.scan import LabelMap, Scan
from medview.demo import make_ct
from medview.io.writers import write_scan
from medview.metrics.case_scores import box_scores
from medview.metrics.review import review_segmentation
from medview.qt.bridge import add_boxes, add_label_map, add_scan
from medview.qt.widgets import plot_canvas
from medview.qt.widgets.annotation_panel import CASE_KEY
from medview.qt.widgets.box_review import (
    FALSE_POSITIVE_COLOUR,
    MISSED_COLOUR,
    PREDICTION_COLOUR,
    TRUTH_COLOUR,
)
from medview.qt.widgets.metric_plots import CURRENT_SLICE, plot_confusion
from medview.qt.widgets.metrics_panel import MetricsPanel
from medview.qt.widgets.metrics_results import PLACEHOLDER
from medview.qt.widgets.plot_canvas import PlotCanvas
from medview.workspace import Workspace

pytestmark = pytest.mark.gui
ORIGIN = (10.0, -5.0, 3.0)
LIVER = preset("liver-lesion")


def square_maps(shape=(12, 30, 30)) -> tuple[np.ndarray, np.ndarray]:
    """Truth: a 10-wide square on slices 2..9. Prediction: moved by half its width on slices 2..5 (Dice
    0.5 there) and missing on slices 6..9 (Dice 0)."""
    truth = np.zeros(shape, dtype=np.uint8)
    truth[2:10, 5:15, 5:15] = 1
    pred = np.roll(truth, 5, axis=2)
    pred[6:10] = 0
    return pred, truth


def open_panel(qtbot, pred, truth, geometry, units="mm", labels=LIVER, scan=True):
    """A viewer with a scan in ``units`` (unless ``scan`` is false), a model's ``pred`` and a drawn
    ``truth``, and a shown Metrics panel about the size of a dock."""
    viewer = ViewerModel()
    if scan:
        add_scan(viewer, Scan(np.zeros(truth.shape, np.int16), geometry, "CT", "scan", units=units))
    add_label_map(viewer, LabelMap(truth, geometry, labels, Provenance.drawn()), name="truth")
    add_label_map(viewer, LabelMap(pred, geometry, labels, Provenance.predicted("net", "1")), name="net 1")
    panel = MetricsPanel(viewer)
    qtbot.addWidget(panel)
    panel.resize(460, 1100)
    panel.show()
    qtbot.waitExposed(panel)
    return viewer, panel


def column(panel, heading):
    header, *rows = panel.table_rows()
    return {row[0]: row[header.index(heading)] for row in rows}


def shown_texts(panel) -> list[str]:
    texts = [cell for row in panel.table_rows() for cell in row]
    return texts + [panel._status.text()]


# ------------------------------------------------------------------------------------------------ units
def test_a_ct_shows_millimetres_and_millilitres(qtbot):
    pred, truth = square_maps()
    geometry = Geometry.from_spacing((2.5, 0.8, 0.8), ORIGIN)
    _, panel = open_panel(qtbot, pred, truth, geometry)
    panel.evaluate()
    header = panel.table_rows()[0]
    assert {"HD95 (mm)", "ASSD (mm)", "surface Dice at 2 mm", "true volume (mL)"} <= set(header)
    expected = review_segmentation(pred, truth, geometry.spacing).metrics[1]
    assert column(panel, "true volume (mL)") == {"liver": f"{800 * 2.5 * 0.8 * 0.8 / 1000:.4g}"}
    assert column(panel, "HD95 (mm)") == {"liver": f"{expected['hd95']:.4g}"}
    assert column(panel, "Dice") == {"liver": f"{1 / 3:.4g}"}


def test_an_unknown_pixel_size_shows_pixels_never_mm(qtbot):
    pred, truth = square_maps()
    _, panel = open_panel(qtbot, pred, truth, Geometry.from_spacing((1.0, 1.0, 1.0)), units="pixel")
    panel.evaluate()
    header = panel.table_rows()[0]
    assert {"HD95 (px)", "ASSD (px)", "true volume (px³)", "predicted volume (px³)"} <= set(header)
    assert not [text for text in header if "mm" in text or "mL" in text]
    assert column(panel, "true volume (px³)") == {"liver": "800"}  # 8 slices of 10 x 10 voxels
    assert "pixel size is unknown" in panel._status.text()


def test_a_slide_shows_micrometres_and_areas(qtbot):
    truth = np.zeros((200, 300), np.uint8)
    truth[50:150, 50:150] = 1
    pred = np.roll(truth, 10, axis=1)
    _, panel = open_panel(qtbot, pred, truth, Geometry.from_spacing((0.25, 0.25)), units="um")
    panel.evaluate()
    header = panel.table_rows()[0]
    assert {"HD95 (µm)", "ASSD (µm)", "true area (µm²)"} <= set(header)
    assert column(panel, "true area (µm²)") == {"liver": f"{100 * 100 * 0.25 * 0.25:.4g}"}
    assert not panel._annotated_only.isEnabled()  # a 2D image has no slices to choose


# ---------------------------------------------------------------------------------- confusion matrix
def six_class_counts() -> tuple[np.ndarray, list[str]]:
    rng = np.random.default_rng(0)
    matrix = rng.integers(10_000, 999_999, size=(6, 6))
    return matrix, ["background", "liver", "lesion", "spleen", "left kidney", "right kidney"]


def text_extents(canvas: PlotCanvas) -> list:
    canvas.draw()
    renderer = canvas.get_renderer()
    return [text.get_window_extent(renderer) for text in canvas.axes.texts]


def assert_apart(extents) -> None:
    touching = [(a, b) for a, b in combinations(extents, 2) if a.overlaps(b)]
    assert not touching, f"{len(touching)} pairs of cell texts overlap"


@pytest.mark.parametrize("size", [(4.0, 2.2), (3.0, 2.0), (8.0, 5.0)])
def test_six_classes_of_six_digit_counts_never_overlap(qtbot, size):
    canvas = PlotCanvas()
    canvas.figure.set_size_inches(*size)
    matrix, names = six_class_counts()
    plot_confusion(canvas, matrix, names, normalised=False)
    extents = text_extents(canvas)
    assert len(extents) == 36 and all(text.get_text().count(",") == 1 for text in canvas.axes.texts)
    assert_apart(extents)
    assert canvas.axes.get_xlabel() == "predicted class" and canvas.axes.get_ylabel() == "true class"
    assert [tick.get_text() for tick in canvas.axes.get_xticklabels()] == names
    assert [tick.get_text() for tick in canvas.axes.get_yticklabels()] == names


def test_the_confusion_of_a_scored_volume_is_readable_and_normalised_by_true_class(qtbot):
    labels = LabelTable([LabelClass(v, n, (200, 40 * v, 60)) for v, n in enumerate("ABCDE", start=1)])
    truth = np.zeros((24, 200, 200), np.uint8)
    for value in range(1, 6):
        truth[:, :, 20 + 36 * (value - 1) : 20 + 36 * value] = value  # five bands of 172,800 voxels
    pred = np.roll(truth, 9, axis=2)
    _, panel = open_panel(qtbot, pred, truth, Geometry.from_spacing((1.0, 1.0, 1.0)), labels=labels)
    panel.evaluate()
    canvas = panel.summary_plot
    assert canvas.minimumHeight() > PlotCanvas().minimumHeight()  # the figure grows with the classes
    texts = [text.get_text() for text in canvas.axes.texts]
    assert len(texts) == 36 and all(text.endswith("%") or text == "–" for text in texts)
    assert texts[7] == "75%"  # of the truth's A voxels, 27 of 36 columns are still A
    assert_apart(text_extents(canvas))
    panel.results.normalised.setChecked(False)
    texts = [text.get_text() for text in canvas.axes.texts]
    assert texts[7] == f"{24 * 200 * 27:,}" and max(len(text) for text in texts) >= 7  # 129,600
    assert_apart(text_extents(canvas))
    assert min(text.get_fontsize() for text in canvas.axes.texts) >= 5  # still readable, not specks
    assert [t.get_text() for t in canvas.axes.get_yticklabels()] == ["background", *"ABCDE"]


# -------------------------------------------------------------------------------------- slice navigation
def test_clicking_a_label_row_goes_to_its_worst_slice(qtbot):
    pred, truth = square_maps()
    viewer, panel = open_panel(qtbot, pred, truth, Geometry.from_spacing((2.5, 0.8, 0.8), ORIGIN))
    panel.evaluate()
    table = panel.table
    qtbot.mouseClick(
        table.viewport(), Qt.MouseButton.LeftButton, pos=table.visualItemRect(table.item(0, 0)).center()
    )
    assert viewer.dims.point[0] == pytest.approx(ORIGIN[0] + 6 * 2.5)  # slices 6..9 missed: 6 first
    assert panel._status.text() == "liver: worst slice 6 (Dice 0)"


def test_the_current_slice_is_marked_on_the_per_slice_plot(qtbot):
    pred, truth = square_maps()
    viewer, panel = open_panel(qtbot, pred, truth, Geometry.from_spacing((2.5, 0.8, 0.8), ORIGIN))
    panel.evaluate()
    (marker,) = [line for line in panel.slice_plot.axes.lines if line.get_gid() == CURRENT_SLICE]
    current = viewer.layers["truth"].world_to_data(viewer.dims.point)[0]
    assert marker.get_visible() and list(marker.get_xdata()) == [round(current)] * 2
    viewer.dims.set_point(0, ORIGIN[0] + 4 * 2.5)
    assert list(marker.get_xdata()) == [4, 4]
    assert marker.get_label().startswith("_")  # not in the legend, which names the labels only
    assert [text.get_text() for text in panel.slice_plot.axes.get_legend().get_texts()] == ["liver"]


# ------------------------------------------------------------------------------------------------ defaults
def test_a_fresh_panel_picks_the_newest_model_output_and_the_newest_annotation(qtbot):
    viewer = ViewerModel()
    pred, truth = square_maps()
    geometry = Geometry.from_spacing((2.5, 0.8, 0.8), ORIGIN)
    for name, provenance in (
        ("reader A", Provenance.drawn()),
        ("net 1", Provenance.predicted("net", "1")),
        ("reader B", Provenance.drawn()),
        ("net 2", Provenance.predicted("net", "2")),
    ):
        add_label_map(viewer, LabelMap(truth.copy(), geometry, LIVER, provenance), name=name)
    panel = MetricsPanel(viewer)
    qtbot.addWidget(panel)
    panel.show()
    assert (panel._pred.currentText(), panel._truth.currentText()) == ("net 2", "reader B")
    assert panel.results.placeholder.isVisible() and panel.results.placeholder.text() == PLACEHOLDER
    assert not panel.slice_plot.isVisible() and not panel.summary_plot.isVisible()
    panel.evaluate()
    assert not panel.results.placeholder.isVisible()
    assert panel.slice_plot.isVisible() and panel.slice_plot.axes.lines[0].get_label() == "liver"


# --------------------------------------------------------------------------------------------------- boxes
TRUE_BOXES = [Box(1, 1.0, (0, 0), (10, 10)), Box(1, 1.0, (20, 20), (30, 30))]
PREDICTED = [Box(1, 0.9, (0, 0), (10, 10)), Box(1, 0.8, (50, 50), (60, 60)), Box(1, 0.3, (20, 20), (30, 30))]


@pytest.fixture
def boxes_panel(qtbot):
    viewer = ViewerModel()
    labels = preset("lung-nodule")
    geometry = Geometry.from_spacing((1.0, 1.0))
    add_boxes(viewer, TRUE_BOXES, labels, geometry, "true boxes")
    add_boxes(viewer, PREDICTED, labels, geometry, "detector")
    panel = MetricsPanel(viewer)
    qtbot.addWidget(panel)
    panel.show()
    assert (panel._pred.currentText(), panel._truth.currentText()) == ("detector", "true boxes")
    panel.evaluate()
    return viewer, panel


def test_true_and_predicted_boxes_look_different_and_the_threshold_hides_low_scores(boxes_panel):
    viewer, panel = boxes_panel
    truth, pred = viewer.layers["true boxes"], viewer.layers["detector"]
    assert panel.score_threshold.isVisible() and not panel._annotated_only.isVisible()
    assert np.allclose(truth.edge_color, [TRUTH_COLOUR] * 2)
    assert list(truth.text.values) == ["", ""]  # one class: the predictions' texts name it
    assert np.allclose(pred.edge_color, [PREDICTION_COLOUR, PREDICTION_COLOUR, (0, 0, 0, 0)])
    assert list(pred.text.values) == ["nodule 0.90", "nodule 0.80", ""]  # 0.3 is below 0.5: hidden
    assert list(truth.edge_width) == [3, 3] and list(pred.edge_width) == [2, 2, 2]
    values = dict(panel.table_rows()[1:])
    assert values["precision at IoU 0.3"] == "0.5" and values["recall at IoU 0.3"] == "0.5"
    assert values["F1 at IoU 0.3"] == "0.5"

    panel.score_threshold.set_threshold(0.2)  # as dragging the slider does
    assert list(pred.text.values) == ["nodule 0.90", "nodule 0.80", "nodule 0.30"]
    assert pred.edge_color[2][3] == 1.0
    values = dict(panel.table_rows()[1:])
    assert values["recall at IoU 0.3"] == "1" and values["precision at IoU 0.3"] == f"{2 / 3:.4g}"
    assert values["F1 at IoU 0.3"] == "0.8"
    (dot,) = [line for line in panel.summary_plot.axes.lines if line.get_label() == "score ≥ 0.20"]
    assert (dot.get_xdata()[0], dot.get_ydata()[0]) == pytest.approx((1.0, 2 / 3))


def test_metric_names_are_words(boxes_panel):
    _, panel = boxes_panel
    names = [row[0] for row in panel.table_rows()[1:]]
    for expected in (
        "AP at IoU 0.5",
        "AP at IoU 0.5:0.95",
        "sensitivity at 1 false positive per image",
        "precision at IoU 0.3",
        "recall at IoU 0.3",
        "F1 at IoU 0.3",
    ):
        assert expected in names
    jargon = ("ap 1", "froc", "map50", "_")
    assert not [text for text in shown_texts(panel) if any(word in text for word in jargon)]


def test_the_f1_shown_is_the_model_score_until_another_iou_is_chosen(boxes_panel):
    _, panel = boxes_panel
    model_score = box_scores(PREDICTED, TRUE_BOXES)["f1"]  # what training and the model cards report
    assert dict(panel.table_rows()[1:])["F1 at IoU 0.3"] == f"{model_score:.4g}"
    panel.score_threshold.iou.setValue(0.5)  # the user asks for COCO's IoU
    assert "F1 at IoU 0.5" in dict(panel.table_rows()[1:])


def test_show_errors_marks_false_positives_and_missed_boxes(boxes_panel):
    viewer, panel = boxes_panel
    truth, pred = viewer.layers["true boxes"], viewer.layers["detector"]
    panel._errors.setChecked(True)
    errors = viewer.layers["detector errors"]
    assert np.allclose(errors.edge_color, [FALSE_POSITIVE_COLOUR, MISSED_COLOUR])
    assert errors.data[1].min(axis=0) == pytest.approx([19.5, 19.5])  # the true box at 20..30
    assert list(pred.text.values) == ["nodule 0.90", "nodule 0.80, false positive", ""]
    assert list(truth.text.values) == ["", "missed"]  # below the box; the prediction's text is above
    assert truth.text.anchor != pred.text.anchor
    panel.score_threshold.set_threshold(0.85)
    errors = viewer.layers["detector errors"]
    assert np.allclose(errors.edge_color, [MISSED_COLOUR])  # the 0.8 false positive is hidden now
    assert list(pred.text.values) == ["nodule 0.90", "", ""]
    panel._errors.setChecked(False)
    assert "detector errors" not in viewer.layers
    assert list(truth.text.values) == ["", ""]


def test_the_boxes_look_is_put_back_when_labels_are_scored_instead(qtbot, boxes_panel):
    viewer, panel = boxes_panel
    pred, truth = square_maps()
    geometry = Geometry.from_spacing((2.5, 0.8, 0.8))
    add_label_map(viewer, LabelMap(truth, geometry, LIVER), name="truth")
    add_label_map(viewer, LabelMap(pred, geometry, LIVER, Provenance.predicted("net", "1")), name="net 1")
    panel.choose("net 1", "truth")
    panel.evaluate()
    assert list(viewer.layers["detector"].text.values) == ["nodule 0.90", "nodule 0.80", "nodule 0.30"]
    assert not np.allclose(viewer.layers["true boxes"].edge_color[0], TRUTH_COLOUR)


# --------------------------------------------------------------------------------------- partial truths
def partial_maps() -> tuple[np.ndarray, np.ndarray]:
    """Truth on slices 3 and 4 of ten; prediction on all ten, moved one column (Dice 0.75 on 3-4)."""
    truth = np.zeros((10, 20, 20), np.uint8)
    truth[3:5, 2:6, 2:6] = 1
    pred = np.zeros_like(truth)
    pred[:, 2:6, 3:7] = 1
    return pred, truth


def test_a_truth_on_few_slices_is_scored_on_them_by_default(qtbot):
    pred, truth = partial_maps()
    _, panel = open_panel(qtbot, pred, truth, Geometry.from_spacing((2.0, 1.0, 1.0)))
    box = panel._annotated_only
    assert box.isVisible() and box.text() == "Annotated slices only" and box.isChecked()
    panel.evaluate()
    assert column(panel, "Dice") == {"liver": "0.75"}
    assert column(panel, "HD95 (mm)") == {"liver": "1"}
    assert panel._status.text() == "net 1 against truth, on 2 annotated slices"
    assert "2 annotated slices of 10" in panel.slice_plot.axes.get_title()
    skipped = [patch.get_x() for patch in panel.slice_plot.axes.patches]
    assert sorted(skipped) == [-0.5, 4.5]  # slices 0..2 and 5..9 greyed
    box.click()  # the user turns it off: every slice counts
    assert column(panel, "Dice") == {"liver": "0.25"}
    assert panel._status.text() == "net 1 against truth"


def test_a_truth_on_most_slices_is_scored_whole_by_default(qtbot):
    pred, truth = partial_maps()
    truth[:, 2:6, 2:6] = 1
    _, panel = open_panel(qtbot, pred, truth, Geometry.from_spacing((2.0, 1.0, 1.0)))
    assert panel._annotated_only.isVisible() and not panel._annotated_only.isChecked()


@pytest.mark.parametrize(("status", "checked"), [("in_progress", True), ("done", False)])
def test_a_workspace_case_in_progress_is_scored_on_its_annotated_slices(qtbot, tmp_path, status, checked):
    case = make_ct(seed=1, shape=(12, 32, 32))
    workspace = Workspace.create(tmp_path / "ws")
    case_id = workspace.add_case(write_scan(case.scan, tmp_path / "s.nii.gz")).id
    workspace.set_status(case_id, status)
    workspace.close()
    viewer = ViewerModel()
    truth = add_label_map(viewer, case.truth, name="case annotation")  # labels most slices
    truth.metadata[CASE_KEY] = {"workspace": str(tmp_path / "ws"), "case_id": case_id}
    moved = LabelMap(np.roll(case.truth.array, 2, axis=2), case.truth.geometry, case.truth.labels,
                     Provenance.predicted("net", "1"))  # fmt: skip
    add_label_map(viewer, moved, name="net 1")
    panel = MetricsPanel(viewer)
    qtbot.addWidget(panel)
    assert (panel._pred.currentText(), panel._truth.currentText()) == ("net 1", "case annotation")
    assert panel._annotated_only.isChecked() is checked


# ----------------------------------------------------------------------------------------------- saving
def test_plots_are_saved_as_png_and_svg(qtbot, tmp_path, monkeypatch):
    pred, truth = square_maps()
    _, panel = open_panel(qtbot, pred, truth, Geometry.from_spacing((2.5, 0.8, 0.8), ORIGIN))
    panel.evaluate()
    target = tmp_path / "dice per slice.png"
    monkeypatch.setattr(
        plot_canvas.QFileDialog, "getSaveFileName", lambda *args: (str(target), "PNG image (*.png)")
    )
    buttons = [box.save_button for box in panel.results._plots]
    assert all(button.isVisible() and button.text() == "Save plot…" for button in buttons)
    qtbot.mouseClick(buttons[0], Qt.MouseButton.LeftButton)
    assert target.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    svg = panel.summary_plot.save(tmp_path / "confusion.svg")
    assert svg.read_text()[:200].startswith("<?xml") and "<svg" in svg.read_text()[:1000]
    assert "true class" in svg.read_text()  # the axis labels travel with the drawing
    assert panel.slice_plot.save_action in panel.slice_plot.actions()  # also on its right-click menu
