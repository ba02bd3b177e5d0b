"""The metrics panel: compare a prediction layer with a ground-truth layer (label maps or boxes).

Shows a per-label table, a per-slice Dice plot that moves the viewer to the slice clicked, the voxel
confusion of label values (or, for boxes, the precision-recall and FROC curves), an optional error
overlay (false positives and false negatives in two colours) and, with a second prediction chosen,
both side by side with their differences. Only layers on the open scan's grid are offered, a model's
output as the prediction and an annotation as the truth by default (:mod:`.layer_choice`). Editing
the truth layer recomputes the table (only the labels the edit touched). "Classes…" scores class
JSON files instead: scores with bootstrap 95% intervals, ROC and precision-recall curves and the
confusion matrix (tables and plots in :mod:`.metrics_views`). Below, the workspace's cases
(:class:`~medview.qt.widgets.case_metrics.CaseMetricsTable`) and two versions of a model compared
on the same cases (:class:`~medview.qt.widgets.version_comparison.VersionComparisonView`). All
numbers come from :mod:`medview.metrics`; large volumes are scored in a worker through the TaskBar.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from napari.components import ViewerModel
from napari.layers import Labels, Layer
from napari.utils.colormaps import DirectLabelColormap
from qtpy.QtCore import QTimer
from qtpy.QtWidgets import (
    QCheckBox,
    QComboBox,
    QFileDialog,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QTableWidget,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from medview.core.progress import CancelToken, ProgressCallback
from medview.metrics.class_json import ClassCases, read_class_cases
from medview.metrics.classification import SCORE_KEYS, evaluate_classification
from medview.metrics.cumulative import CaseRow
from medview.metrics.report import rows_to_csv
from medview.metrics.review import (
    DetectionReview,
    SegmentationReview,
    changed_labels,
    review_detection,
    review_segmentation,
)
from medview.metrics.segmentation import METRIC_KEYS
from medview.metrics.slices import error_map
from medview.qt.bridge import boxes_from_layer, geometry_kwargs, label_map_from_layer
from medview.qt.widgets.annotation_panel import CASE_KEY
from medview.qt.widgets.case_metrics import CaseMetricsTable
from medview.qt.widgets.layer_choice import (
    ERRORS_SUFFIX,
    ONE_LAYER_HINT,
    comparable_layers,
    default_prediction,
    default_truth,
    mismatch,
)
from medview.qt.widgets.metrics_views import (
    cell,
    fill_table,
    flat_metrics,
    plot_confusion,
    plot_detection_curves,
    plot_roc_and_precision_recall,
    plot_slice_dice,
)
from medview.qt.widgets.plot_canvas import PlotCanvas
from medview.qt.widgets.task_bar import TaskBar
from medview.qt.widgets.version_comparison import VersionComparisonView

NONE = "(none)"
WORKER_VOXELS = 8_000_000
"""Volumes with more voxels than this are scored in a worker; smaller ones at once."""
ERROR_COLOURS = {
    0: (0.0, 0.0, 0.0, 0.0),
    1: (1.0, 0.25, 0.2, 1.0),
    2: (0.2, 0.55, 1.0, 1.0),
    None: (0, 0, 0, 0),
}
"""False positives red, false negatives blue."""
_REFRESH_DELAY_MS = 300


class MetricsPanel(QWidget):
    """Per-label metrics of a prediction layer against a ground-truth layer, refreshed after edits."""

    def __init__(self, viewer: ViewerModel, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.viewer = viewer
        self.review: SegmentationReview | DetectionReview | None = None
        self.comparison: SegmentationReview | DetectionReview | None = None
        self.classification: dict | None = None
        self._pred = QComboBox()
        self._truth = QComboBox()
        self._compare = QComboBox()
        self._errors = QCheckBox("Show errors (red: false positive, blue: false negative)")
        self._evaluate_button = QPushButton("Evaluate")
        self._export_button = QPushButton("Export CSV…")
        self._classes_button = QPushButton("Classes…")
        self._classes_button.setToolTip("Score class predictions: choose the truth, then the prediction JSON")
        self.task_bar = TaskBar()
        self.table = QTableWidget()
        self.comparison_table = QTableWidget()
        self.slice_plot = PlotCanvas()
        self.summary_plot = PlotCanvas()
        self._status = QLabel()
        self._score_workspace_button = QPushButton("Score workspace cases")
        self._score_workspace_button.setToolTip(
            "Every case of the open workspace with a prediction and an annotation"
        )
        self.cases = CaseMetricsTable(self.task_bar)
        self.versions = VersionComparisonView(self.task_bar)
        self.sections = QTabWidget()
        self._watched: Layer | None = None
        self._picked: set[QComboBox] = set()  # choosers the user set: kept while their layer is offered
        self._last_scored: _Scored | None = None
        self._refresh_timer = QTimer(self)
        self._refresh_timer.setSingleShot(True)
        self._refresh_timer.setInterval(_REFRESH_DELAY_MS)
        self._refresh_timer.timeout.connect(self.evaluate)
        self._lay_out()
        self._connect()
        self.refresh_layers()

    # ----------------------------------------------------------------------------------------- wiring
    def _lay_out(self) -> None:
        form = QFormLayout()
        form.addRow("Prediction", self._pred)
        form.addRow("Ground truth", self._truth)
        form.addRow("Compare with", self._compare)
        buttons = QHBoxLayout()
        buttons.addWidget(self._evaluate_button)
        buttons.addWidget(self._classes_button)
        buttons.addWidget(self._export_button)
        layers = QWidget()
        layers_layout = QVBoxLayout(layers)
        layers_layout.addLayout(form)
        layers_layout.addWidget(self._errors)
        layers_layout.addLayout(buttons)
        for widget in (self._status, self.table, self.comparison_table, self.slice_plot, self.summary_plot):
            layers_layout.addWidget(widget)
        cases = QWidget()
        cases_layout = QVBoxLayout(cases)
        cases_layout.addWidget(self._score_workspace_button)
        cases_layout.addWidget(self.cases)
        self.sections.addTab(layers, "Layers")
        self.sections.addTab(cases, "Workspace cases")
        self.sections.addTab(self.versions, "Model versions")
        layout = QVBoxLayout(self)
        layout.addWidget(self.task_bar)
        layout.addWidget(self.sections)
        self.comparison_table.setVisible(False)
        self._export_button.setEnabled(False)
        self._evaluate_button.setToolTip("Score the prediction against the ground truth")
        self._export_button.setToolTip("Write the per-label table as CSV")

    def _connect(self) -> None:
        self._evaluate_button.clicked.connect(self.evaluate)
        self._export_button.clicked.connect(self._ask_export)
        self._classes_button.clicked.connect(self._ask_classes)
        self._score_workspace_button.clicked.connect(self.score_workspace)
        self._errors.toggled.connect(self._update_error_layer)
        self._truth.currentTextChanged.connect(self._watch_truth)
        for box in (self._pred, self._truth, self._compare):
            box.activated.connect(lambda index, box=box: self._picked.add(box))
        for event in (self.viewer.layers.events.inserted, self.viewer.layers.events.removed):
            event.connect(self.refresh_layers)
        self.slice_plot.mpl_connect("button_press_event", self._slice_plot_clicked)

    def refresh_layers(self, event: Any = None) -> None:
        """Offer the labels and boxes layers on the open scan's grid in the three choosers, keeping the
        user's choices while their layers are offered and choosing the others by default: an
        annotation as the truth, a model's output as the prediction, never one layer as both."""
        layers = comparable_layers(self.viewer)
        names = [layer.name for layer in layers]
        pred, truth = self._picked_layer(self._pred, layers), self._picked_layer(self._truth, layers)
        truth = truth or default_truth(layers, taken=pred)
        pred = pred or default_prediction(layers, truth)
        compare = self._compare.currentText()
        for box, extra, chosen in (
            (self._pred, [], pred.name if pred is not None else None),
            (self._truth, [], truth.name if truth is not None else None),
            (self._compare, [NONE], compare if compare in names else NONE),
        ):
            box.blockSignals(True)
            box.clear()
            box.addItems(extra + names)
            box.setCurrentIndex((extra + names).index(chosen) if chosen is not None else -1)
            box.blockSignals(False)
        self._watch_truth(self._truth.currentText())
        if pred is None and truth is not None:
            self._status.setText(ONE_LAYER_HINT)
        elif self._status.text() == ONE_LAYER_HINT:
            self._status.clear()
        workspace = self._open_workspace()
        if workspace is not None and self.versions.workspace is None:
            self.versions.set_workspace(workspace)

    def choose(self, pred: str, truth: str, compare: str | None = None) -> None:
        """Select the layers by name, as the user does with the three choosers."""
        self._pred.setCurrentText(pred)
        self._truth.setCurrentText(truth)
        self._compare.setCurrentText(compare or NONE)
        self._picked |= {self._pred, self._truth, self._compare}

    # ---------------------------------------------------------------------------------------- scoring
    def evaluate(self) -> None:
        """Score the chosen layers (in a worker for large volumes) and redraw."""
        pred, truth, compare = (
            self._layer(box.currentText()) for box in (self._pred, self._truth, self._compare)
        )
        if pred is None or truth is None:
            alone = truth is not None  # refresh_layers leaves it empty only when no layer could be it
            self._status.setText(ONE_LAYER_HINT if alone else "Choose a prediction and a ground-truth layer.")
            return
        if type(pred) is not type(truth) or (compare is not None and type(compare) is not type(truth)):
            self._status.setText("Compare labels with labels, or boxes with boxes.")
            return
        refusals = [mismatch(layer, truth) for layer in (pred, compare) if layer is not None]
        if any(refusals):
            self._status.setText(next(refusal for refusal in refusals if refusal))
            return
        work = self._work(pred, truth, compare)
        if isinstance(truth, Labels) and np.asarray(truth.data).size > WORKER_VOXELS:
            if self.task_bar.busy:
                self._refresh_timer.start()  # an edit while scoring: score again when it ends
                return
            self.task_bar.start(work, self._show, description="Scoring")
        else:
            self._show(work(lambda fraction, message: None, CancelToken()))

    def _work(self, pred: Layer, truth: Layer, compare: Layer | None):
        """A ``(progress, cancel)`` function over copies of the layers' data, safe to run in a worker."""
        if isinstance(truth, Labels):
            truth_map = label_map_from_layer(truth)
            spacing = truth_map.geometry.spacing
            truth_array = np.array(truth_map.array)
            others = [np.array(layer.data) for layer in (pred, compare) if layer is not None]
            key = (pred.name, truth.name, None if compare is None else compare.name, spacing)
            last = self._last_scored if self._last_scored and self._last_scored.key == key else None

            def score(progress: ProgressCallback, cancel: CancelToken) -> _Scored:
                reviews = []
                for index, array in enumerate(others):
                    previous, changed = None, set()
                    if last is not None and last.truth.shape == truth_array.shape:
                        previous = last.reviews[index]
                        changed = changed_labels(last.truth, truth_array) | changed_labels(
                            last.preds[index], array
                        )
                    reviews.append(
                        review_segmentation(
                            array,
                            truth_array,
                            spacing,
                            progress=progress,
                            cancel=cancel,
                            previous=previous,
                            changed=changed,
                        )
                    )
                return _Scored(key, others, truth_array, reviews)

            return score
        truth_boxes = boxes_from_layer(truth)
        box_sets = [boxes_from_layer(layer) for layer in (pred, compare) if layer is not None]

        def score_boxes(progress: ProgressCallback, cancel: CancelToken) -> list[DetectionReview]:
            return [
                review_detection(boxes, truth_boxes, progress=progress, cancel=cancel) for boxes in box_sets
            ]

        return score_boxes

    def _show(self, result: _Scored | list[DetectionReview]) -> None:
        self.classification = None
        reviews = result.reviews if isinstance(result, _Scored) else result
        self._last_scored = result if isinstance(result, _Scored) else None
        self.review = reviews[0]
        self.comparison = reviews[1] if len(reviews) > 1 else None
        self._export_button.setEnabled(True)
        self._status.setText(f"{self._pred.currentText()} against {self._truth.currentText()}")
        if isinstance(self.review, SegmentationReview):
            self._fill_segmentation_table()
            plot_slice_dice(self.slice_plot, self.review.slice_dice, self._label_names())
            names = self._label_names() | {0: "background"}
            labels = [names.get(v, str(v)) for v in self.review.values]
            plot_confusion(self.summary_plot, self.review.confusion, labels)
        else:
            self._fill_detection_table()
            plot_detection_curves(self.slice_plot, self.summary_plot, self.review)
        self._fill_comparison_table()
        self._update_error_layer()

    # ------------------------------------------------------------------------------------ what to see
    def table_rows(self) -> list[list[str]]:
        """The table's cells as the user reads them, header row first."""
        header = [self.table.horizontalHeaderItem(c).text() for c in range(self.table.columnCount())]
        cells = [
            [self.table.item(r, c).text() for c in range(self.table.columnCount())]
            for r in range(self.table.rowCount())
        ]
        return [header, *cells]

    def jump_to_slice(self, index: int) -> None:
        """Move the viewer to slice ``index`` (first array axis) of the truth layer."""
        truth = self._layer(self._truth.currentText())
        if truth is None or truth.ndim < 3:
            return
        world = truth.data_to_world(np.r_[float(index), np.zeros(truth.ndim - 1)])
        self.viewer.dims.set_point(0, float(world[0]))

    def export_csv(self, path: str | Path) -> Path:
        """Write the per-label metrics of the shown prediction as CSV."""
        if self.review is None and self.classification is not None:
            values = {
                f"{k} {part}": v for k in SCORE_KEYS for part, v in self.classification[k].to_dict().items()
            }
            rows = [CaseRow("classes", 0, "all", values)]
        elif not isinstance(self.review, SegmentationReview):
            metrics = self.review.metrics if self.review is not None else {}
            rows = [CaseRow(self._pred.currentText(), 0, "all", flat_metrics(metrics))]
        else:
            names = self._label_names()
            rows = [
                CaseRow(self._pred.currentText(), label, names.get(label, f"label {label}"), values)
                for label, values in self.review.metrics.items()
            ]
        return rows_to_csv(rows, path)

    def load_classes(self, truth_path: str | Path, pred_path: str | Path) -> None:
        """Score class JSON files (see :mod:`medview.metrics.class_json`) in a worker and show them."""

        def work(progress: ProgressCallback, cancel: CancelToken) -> tuple[ClassCases, dict]:
            cases = read_class_cases(truth_path, pred_path)
            progress(0.1, "Bootstrapping confidence intervals")
            return cases, evaluate_classification(cases.truth, cases.probabilities)

        self.task_bar.start(work, self._show_classes, description="Scoring classes")

    def _show_classes(self, result: tuple[ClassCases, dict]) -> None:
        cases, metrics = result
        self.review, self.comparison, self._last_scored = None, None, None
        self.classification = metrics
        self._export_button.setEnabled(True)
        self._status.setText(f"{len(cases.ids)} cases, {metrics['classes']} classes")
        rows = [
            [key, cell(metrics[key].value), f"{cell(metrics[key].low)} – {cell(metrics[key].high)}"]
            for key in SCORE_KEYS
        ]
        fill_table(self.table, ["metric", "value", "95% CI"], rows)
        self.comparison_table.setVisible(False)
        plot_roc_and_precision_recall(self.slice_plot, cases)
        names = [cases.labels[k] if k < len(cases.labels) else str(k) for k in range(metrics["classes"])]
        plot_confusion(self.summary_plot, np.array(metrics["confusion"]), names)

    def _ask_classes(self) -> None:
        truth, _ = QFileDialog.getOpenFileName(self, "True classes", "", "Class JSON (*.json)")
        pred, _ = (
            QFileDialog.getOpenFileName(self, "Predicted probabilities", "", "Class JSON (*.json)")
            if truth
            else ("", "")
        )
        if truth and pred:
            self.load_classes(truth, pred)

    def compare_versions(self, workspace: str | Path, model: str, version: str) -> None:
        """Show the "Model versions" tab and compare ``version`` of ``model`` with its base there."""
        self.sections.setCurrentWidget(self.versions)
        self.versions.compare(workspace, model, version)

    def score_workspace(self) -> None:
        """Score the cases of the workspace the open case belongs to (see :class:`CaseMetricsTable`)."""
        directory = self._open_workspace()
        if directory is None:
            self._status.setText("Open a case of a workspace first.")
            return
        self.sections.setCurrentIndex(1)
        self.cases.score(directory)

    # ---------------------------------------------------------------------------------------- drawing
    def _fill_segmentation_table(self) -> None:
        names = self._label_names()
        rows = [[names.get(label, f"label {label}"), *(cell(values[k]) for k in METRIC_KEYS)]
                for label, values in self.review.metrics.items()]  # fmt: skip
        fill_table(self.table, ["label", *METRIC_KEYS], rows)

    def _fill_detection_table(self) -> None:
        flat = flat_metrics(self.review.metrics)
        fill_table(self.table, ["metric", "value"], [[key, cell(value)] for key, value in flat.items()])

    def _fill_comparison_table(self) -> None:
        self.comparison_table.setVisible(self.comparison is not None)
        if self.comparison is None:
            return
        first, second = self._comparable(self.review), self._comparable(self.comparison)
        rows = []
        for key in first.keys() & second.keys():
            a, b = first[key], second[key]
            rows.append([key, cell(a), cell(b), cell(b - a)])
        rows.sort()
        header = ["metric", self._pred.currentText(), self._compare.currentText(), "difference"]
        fill_table(self.comparison_table, header, rows)

    def _comparable(self, review: SegmentationReview | DetectionReview) -> dict[str, float]:
        if isinstance(review, DetectionReview):
            return flat_metrics(review.metrics)
        names = self._label_names()
        return {
            f"{names.get(label, f'label {label}')} {key}": value
            for label, values in review.metrics.items()
            for key, value in values.items()
        }

    def _update_error_layer(self, checked: bool | None = None) -> None:
        pred, truth = self._layer(self._pred.currentText()), self._layer(self._truth.currentText())
        name = f"{self._pred.currentText()}{ERRORS_SUFFIX}"
        existing = self._layer(name)
        if not self._errors.isChecked() or not isinstance(pred, Labels) or not isinstance(truth, Labels):
            if existing is not None:
                self.viewer.layers.remove(existing)
            return
        errors = error_map(np.asarray(pred.data), np.asarray(truth.data))
        if existing is not None:
            existing.data = errors
            return
        geometry = label_map_from_layer(truth).geometry
        layer = self.viewer.add_labels(errors, name=name, opacity=0.7, **geometry_kwargs(geometry))
        layer.colormap = DirectLabelColormap(color_dict=ERROR_COLOURS)

    # ---------------------------------------------------------------------------------------- helpers
    def _open_workspace(self) -> str | None:
        """The workspace folder of the open case, if a layer came from one."""
        cases = (layer.metadata[CASE_KEY] for layer in self.viewer.layers if CASE_KEY in layer.metadata)
        return next((case["workspace"] for case in cases), None)

    def _layer(self, name: str) -> Layer | None:
        return self.viewer.layers[name] if name and name != NONE and name in self.viewer.layers else None

    def _picked_layer(self, box: QComboBox, offered: list[Layer]) -> Layer | None:
        """The layer the user chose in ``box``, while it is still offered."""
        layer = self._layer(box.currentText()) if box in self._picked else None
        return layer if layer in offered else None

    def _label_names(self) -> dict[int, str]:
        names: dict[int, str] = {}
        for box in (self._pred, self._truth):
            layer = self._layer(box.currentText())
            if isinstance(layer, Labels):
                names |= {c.value: c.name for c in label_map_from_layer(layer).labels}
        return names

    def _watch_truth(self, name: str) -> None:
        """Recompute (debounced) whenever the ground truth is painted or replaced."""
        if self._watched is not None:
            for emitter in _edit_events(self._watched):
                emitter.disconnect(self._schedule_refresh)
        self._watched = self._layer(name)
        if self._watched is not None:
            for emitter in _edit_events(self._watched):
                emitter.connect(self._schedule_refresh)

    def _schedule_refresh(self, event: Any = None) -> None:
        if self.review is not None:
            self._refresh_timer.start()

    def _slice_plot_clicked(self, event: Any) -> None:
        on_plot = event.inaxes is self.slice_plot.axes and event.xdata is not None
        if on_plot and isinstance(self.review, SegmentationReview):
            self.jump_to_slice(int(round(event.xdata)))

    def _ask_export(self) -> None:
        path, _ = QFileDialog.getSaveFileName(self, "Export metrics", "metrics.csv", "CSV (*.csv)")
        if path:
            self.export_csv(path)
            self._status.setText(f"Wrote {path}")


@dataclass(frozen=True)
class _Scored:
    """What the last scoring saw, so the next one after an edit recomputes only the changed labels."""

    key: tuple
    preds: list[np.ndarray]
    truth: np.ndarray
    reviews: list[SegmentationReview]


def _edit_events(layer: Layer) -> list:
    events = [layer.events.data]
    if hasattr(layer.events, "paint"):
        events.append(layer.events.paint)
    return events
