"""The metrics panel: expected Dice in its table, click-to-slice, refresh after an edit, CSV, boxes."""

from __future__ import annotations

import csv
import json

import numpy as np
import pytest
from matplotlib.backend_bases import MouseEvent
from napari.components import ViewerModel

from medview.core.boxes import Box
from medview.core.geometry import Geometry
from medview.core.labels import preset
from medview.core.provenance import Provenance
from medview.core.scan import LabelMap
from medview.demo import make_ct
from medview.io.writers import write_scan
from medview.metrics.segmentation import compute_dice
from medview.qt.bridge import add_boxes, add_label_map
from medview.qt.widgets import metrics_panel
from medview.qt.widgets.annotation_panel import CASE_KEY
from medview.qt.widgets.metrics_panel import MetricsPanel
from medview.workspace import Workspace

pytestmark = pytest.mark.gui
GEOMETRY = Geometry.from_spacing((2.5, 0.8, 0.8), origin=(10.0, -5.0, 3.0))


def maps():
    truth = np.zeros((12, 30, 30), dtype=np.uint8)
    truth[2:10, 5:15, 5:15] = 1  # a 10-wide square in slices 2..9
    pred = np.roll(truth, 5, axis=2)  # moved by half its width: Dice 0.5
    pred[6:10] = 0  # and missing in slices 6..9
    return LabelMap(pred, GEOMETRY, preset("liver-lesion")), LabelMap(truth, GEOMETRY, preset("liver-lesion"))


@pytest.fixture
def viewer_and_panel(qtbot):
    viewer = ViewerModel()
    pred, truth = maps()
    add_label_map(viewer, pred, name="prediction")
    add_label_map(viewer, truth, name="truth")
    panel = MetricsPanel(viewer)
    qtbot.addWidget(panel)
    panel.show()
    panel.choose("prediction", "truth")
    return viewer, panel


def column(panel, name):
    header, *rows = panel.table_rows()
    return {row[0]: row[header.index(name)] for row in rows}


def test_table_shows_expected_dice(viewer_and_panel):
    _, panel = viewer_and_panel
    panel.evaluate()
    # slices 2..5: each 50 overlap of 100 + 100; slices 6..9 missed: 200 overlap, 1200 voxels in all
    assert column(panel, "Dice") == {"liver": f"{2 * 200 / 1200:.4g}"}
    assert column(panel, "true volume (mL)") == {"liver": f"{800 * 2.5 * 0.8 * 0.8 / 1000:.4g}"}


def test_clicking_the_slice_plot_moves_the_viewer(qtbot, viewer_and_panel):
    viewer, panel = viewer_and_panel
    panel.evaluate()
    canvas = panel.slice_plot
    canvas.draw()
    x, y = canvas.axes.transData.transform((7, 0.5))
    MouseEvent("button_press_event", canvas, x, y, button=1)._process()
    assert viewer.dims.point[0] == pytest.approx(10.0 + 7 * 2.5)
    truth_layer = viewer.layers["truth"]
    assert truth_layer.world_to_data(viewer.dims.point)[0] == pytest.approx(7)


def test_editing_the_truth_updates_the_table(qtbot, viewer_and_panel):
    viewer, panel = viewer_and_panel
    panel.evaluate()
    before = column(panel, "Dice")["liver"]
    truth_layer = viewer.layers["truth"]
    truth_layer.brush_size = 3
    truth_layer.paint((3, 10, 17), 1)  # a brush stroke where only the prediction had the liver
    painted = np.asarray(truth_layer.data)
    expected = compute_dice(np.asarray(viewer.layers["prediction"].data) == 1, painted == 1)
    qtbot.waitUntil(lambda: column(panel, "Dice")["liver"] != before, timeout=3000)
    assert column(panel, "Dice") == {"liver": f"{expected:.4g}"}
    truth_layer.data = np.asarray(viewer.layers["prediction"].data).copy()  # replacing the data also counts
    qtbot.waitUntil(lambda: column(panel, "Dice") == {"liver": "1"}, timeout=3000)


def test_errors_overlay_and_csv_export(tmp_path, viewer_and_panel):
    viewer, panel = viewer_and_panel
    panel.evaluate()
    panel._errors.setChecked(True)
    errors = viewer.layers["prediction errors"]
    assert np.count_nonzero(np.asarray(errors.data) == 1) == 4 * 50  # false positives: shifted half
    assert np.count_nonzero(np.asarray(errors.data) == 2) == 4 * 50 + 4 * 100
    assert errors.scale[0] == pytest.approx(2.5)
    path = panel.export_csv(tmp_path / "metrics.csv")
    rows = list(csv.DictReader(path.read_text().splitlines()))
    assert rows[0]["name"] == "liver" and float(rows[0]["dice"]) == pytest.approx(1 / 3)
    panel._errors.setChecked(False)
    assert "prediction errors" not in viewer.layers


def test_two_predictions_side_by_side(viewer_and_panel):
    viewer, panel = viewer_and_panel
    _, truth = maps()
    add_label_map(viewer, LabelMap(truth.array.copy(), GEOMETRY, truth.labels), name="fine-tuned")
    panel.choose("prediction", "truth", "fine-tuned")
    panel.evaluate()
    assert panel.comparison_table.isVisible()
    rows = {
        panel.comparison_table.item(r, 0).text(): [
            panel.comparison_table.item(r, c).text() for c in (1, 2, 3)
        ]
        for r in range(panel.comparison_table.rowCount())
    }
    assert rows["liver Dice"] == [f"{1 / 3:.4g}", "1", f"{2 / 3:.4g}"]


def test_large_volume_is_scored_in_a_worker(qtbot, viewer_and_panel, monkeypatch):
    _, panel = viewer_and_panel
    monkeypatch.setattr(metrics_panel, "WORKER_VOXELS", 100)
    panel.evaluate()
    assert panel.task_bar.busy
    with qtbot.waitSignal(panel.task_bar.finished, timeout=10000) as outcome:
        pass
    assert outcome.args == ["done"]
    assert column(panel, "Dice") == {"liver": f"{1 / 3:.4g}"}


def test_box_layers(qtbot):
    viewer = ViewerModel()
    labels = preset("lung-nodule")
    geometry = Geometry.from_spacing((1.0, 1.0))
    truth = [Box(1, 1.0, (0, 0), (10, 10)), Box(1, 1.0, (20, 20), (30, 30))]
    pred = [Box(1, 0.9, (0, 0), (10, 10)), Box(1, 0.8, (50, 50), (60, 60))]
    add_boxes(viewer, truth, labels, geometry, "true boxes")
    add_boxes(viewer, pred, labels, geometry, "predicted boxes")
    panel = MetricsPanel(viewer)
    qtbot.addWidget(panel)
    panel.choose("predicted boxes", "true boxes")
    panel.evaluate()
    values = dict(panel.table_rows()[1:])
    assert values["AP at IoU 0.3, nodule"] == f"{51 / 101:.4g}"
    assert values["precision at IoU 0.3"] == "0.5" and values["recall at IoU 0.3"] == "0.5"


def test_workspace_cases_worst_first_with_summary(qtbot, tmp_path):
    workspace = Workspace.create(tmp_path / "ws")
    ids = {}
    for seed, shift in ((1, 1), (2, 6)):
        case = make_ct(seed=seed, shape=(12, 32, 32))
        case_id = workspace.add_case(write_scan(case.scan, tmp_path / f"s{seed}.nii.gz")).id
        ids[shift] = case_id
        truth = case.truth
        workspace.save_labels(
            case_id, LabelMap(truth.array, truth.geometry, truth.labels, Provenance.drawn())
        )
        moved = np.roll(truth.array, shift, axis=2)
        workspace.save_labels(
            case_id, LabelMap(moved, truth.geometry, truth.labels, Provenance.predicted("n", "1"))
        )
    workspace.close()
    viewer = ViewerModel()
    layer = add_label_map(viewer, make_ct(seed=1, shape=(12, 32, 32)).truth, name="annotation")
    layer.metadata[CASE_KEY] = {"workspace": str(tmp_path / "ws"), "case_id": ids[1]}
    panel = MetricsPanel(viewer)
    qtbot.addWidget(panel)
    with qtbot.waitSignal(panel.task_bar.finished, timeout=20000):
        panel._score_workspace_button.click()
    rows = panel.cases.rows()
    assert rows[0][0] == ids[6] and rows[0][2] != rows[-1][2]  # the case shifted by 6 voxels is worst
    assert {row[0] for row in rows} == set(ids.values())
    assert "body dice: mean" in panel.cases.summary.text() and "95% CI" in panel.cases.summary.text()
    with qtbot.waitSignal(panel.cases.case_requested) as requested:
        panel.cases.table.cellClicked.emit(0, 0)
    assert requested.args == [ids[6]]


def test_class_json_shows_scores_curves_and_confusion(qtbot, viewer_and_panel, tmp_path):
    _, panel = viewer_and_panel
    truth = {
        "labels": ["normal", "abnormal"],
        "cases": [{"id": f"c{i}", "truth": t} for i, t in enumerate([0, 0, 1, 1])],
    }
    pred = {"cases": [{"id": f"c{i}", "probabilities": p} for i, p in enumerate([0.1, 0.6, 0.4, 0.9])]}
    (tmp_path / "t.json").write_text(json.dumps(truth))
    (tmp_path / "p.json").write_text(json.dumps(pred))
    with qtbot.waitSignal(panel.task_bar.finished, timeout=20000):
        panel.load_classes(tmp_path / "t.json", tmp_path / "p.json")
    values = {row[0]: row[1] for row in panel.table_rows()[1:]}
    assert values["auc"] == "0.75" and values["accuracy"] == "0.5"
    assert [line.get_label() for line in panel.slice_plot.axes.lines] == ["abnormal ROC", "abnormal PR"]
    assert [text.get_text() for text in panel.summary_plot.axes.texts] == ["50%", "50%", "50%", "50%"]
    panel.results.normalised.setChecked(False)  # counts: one case in each cell
    assert [text.get_text() for text in panel.summary_plot.axes.texts] == ["1", "1", "1", "1"]
    rows = list(csv.DictReader(panel.export_csv(tmp_path / "classes.csv").read_text().splitlines()))
    assert float(rows[0]["auc value"]) == pytest.approx(0.75)
