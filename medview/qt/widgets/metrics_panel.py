"""The metrics panel: compare a prediction layer with a ground-truth layer (label maps or boxes).

Shows the metrics in words and the scan's units, per-slice Dice and the confusion matrix
(:mod:`.metrics_results`); a label's row and a point of the per-slice plot move the viewer to that
slice, and the plot marks the slice shown. Options: an error overlay, "Annotated slices only" for a
partial annotation (on by default for a workspace case in progress, or a truth labelling under half
the prediction's slices), a second prediction side by side, and for boxes a score threshold that
hides the predictions below it and re-scores the rest (:mod:`.box_review`). Only layers on the open
scan's grid are offered, the newest model output as the prediction and the newest annotation as the
truth by default. Editing the truth recomputes the labels the edit touched. "Classes…" scores class
JSON files instead. The other tabs: the workspace's cases (:class:`.CaseMetricsTable`) and two
versions of a model on the same cases (:class:`.VersionComparisonView`). All numbers come from
:mod:`medview.metrics`; large volumes are scored in a worker through the TaskBar.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
from napari.components import ViewerModel
from napari.layers import Labels, Layer
from qtpy.QtCore import QTimer
from qtpy.QtWidgets import (
    QCheckBox,
    QComboBox,
    QFileDialog,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QScrollArea,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from medview.core.progress import CancelToken
from medview.metrics.class_json import ClassCases
from medview.metrics.report import rows_to_csv
from medview.metrics.review import (
    DetectionReview,
    MetricColumn,
    SegmentationReview,
    at_score_threshold,
    detection_metric_names,
    differences,
    segmentation_columns,
    segmentation_metric_names,
)
from medview.qt.widgets.annotation_panel import CASE_KEY
from medview.qt.widgets.box_review import BoxStyle, ScoreThreshold, box_class_names, show_box_errors
from medview.qt.widgets.case_metrics import CaseMetricsTable
from medview.qt.widgets.layer_choice import (
    ERRORS_SUFFIX,
    ONE_LAYER_HINT,
    comparable_layers,
    default_prediction,
    mismatch,
)
from medview.qt.widgets.metrics_results import MetricsResults
from medview.qt.widgets.metrics_scoring import (
    Scored,
    box_scoring,
    class_scoring,
    label_scoring,
    show_label_errors,
)
from medview.qt.widgets.metrics_views import cell, csv_rows
from medview.qt.widgets.review_context import annotated_only_by_default, label_names, newest_truth, scan_units
from medview.qt.widgets.task_bar import TaskBar
from medview.qt.widgets.version_comparison import VersionComparisonView

NONE = "(none)"
WORKER_VOXELS = 8_000_000
"""Volumes with more voxels than this are scored in a worker; smaller ones at once."""
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
        self._annotated_only = QCheckBox("Annotated slices only")
        self._annotated_only.setToolTip(
            "Score only the slices on which the ground truth has a label, so slices nobody has "
            "annotated yet do not count as misses"
        )
        self._errors = QCheckBox("Show errors (red: false positive, blue: missed)")
        self.score_threshold = ScoreThreshold()
        self._evaluate_button = QPushButton("Evaluate")
        self._export_button = QPushButton("Export CSV…")
        self._classes_button = QPushButton("Classes…")
        self._classes_button.setToolTip("Score class predictions: choose the truth, then the prediction JSON")
        self.task_bar = TaskBar()
        self.results = MetricsResults()
        self.table, self.comparison_table = self.results.table, self.results.comparison_table
        self.slice_plot, self.summary_plot = self.results.slice_plot, self.results.summary_plot
        self._status = QLabel()
        self._status.setWordWrap(True)
        self._score_workspace_button = QPushButton("Score workspace cases")
        self._score_workspace_button.setToolTip(
            "Every case of the open workspace with a prediction and an annotation"
        )
        self.cases = CaseMetricsTable(self.task_bar)
        self.versions = VersionComparisonView(self.task_bar)
        self.sections = QTabWidget()
        self._watched: Layer | None = None
        self._picked: set[QComboBox] = set()  # choosers the user set: kept while their layer is offered
        self._last_scored: Scored | None = None
        self._restriction_pair: tuple[str, str] | None = None  # the layers the checkbox was set for
        self._box_style = BoxStyle()
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
        for button in (self._evaluate_button, self._classes_button, self._export_button):
            buttons.addWidget(button)
        layers = QWidget()
        layers_layout = QVBoxLayout(layers)
        layers_layout.addLayout(form)
        for widget in (self._annotated_only, self._errors, self.score_threshold):
            layers_layout.addWidget(widget)
        layers_layout.addLayout(buttons)
        layers_layout.addWidget(self._status)
        layers_layout.addWidget(self.results)
        layers_layout.addStretch()
        scroll = QScrollArea()
        scroll.setWidgetResizable(True)
        scroll.setWidget(layers)
        cases = QWidget()
        cases_layout = QVBoxLayout(cases)
        cases_layout.addWidget(self._score_workspace_button)
        cases_layout.addWidget(self.cases)
        self.sections.addTab(scroll, "Layers")
        self.sections.addTab(cases, "Workspace cases")
        self.sections.addTab(self.versions, "Model versions")
        layout = QVBoxLayout(self)
        layout.addWidget(self.task_bar)
        layout.addWidget(self.sections)
        self.score_threshold.setVisible(False)
        self._export_button.setEnabled(False)
        self._evaluate_button.setToolTip("Score the prediction against the ground truth")
        self._export_button.setToolTip("Write the per-label table as CSV")
        self.table.setToolTip("Click a label to go to its worst slice")

    def _connect(self) -> None:
        self._evaluate_button.clicked.connect(self.evaluate)
        self._export_button.clicked.connect(self._ask_export)
        self._classes_button.clicked.connect(self._ask_classes)
        self._score_workspace_button.clicked.connect(self.score_workspace)
        self._errors.toggled.connect(
            lambda: self._show_boxes() if self._boxes() else self._update_error_layer()
        )
        self._annotated_only.toggled.connect(lambda: self._rescore(SegmentationReview))
        self.score_threshold.threshold_changed.connect(self._threshold_changed)
        self.score_threshold.iou_changed.connect(lambda: self._rescore(DetectionReview))
        self.results.label_clicked.connect(self.go_to_worst_slice)
        self._truth.currentTextChanged.connect(self._watch_truth)
        for box in (self._pred, self._truth):
            box.currentTextChanged.connect(self._default_restriction)
        for box in (self._pred, self._truth, self._compare):
            box.activated.connect(lambda index, box=box: self._picked.add(box))
        for event in (self.viewer.layers.events.inserted, self.viewer.layers.events.removed):
            event.connect(self.refresh_layers)
        self.viewer.dims.events.current_step.connect(self._mark_current_slice)
        self.slice_plot.mpl_connect("button_press_event", self._slice_plot_clicked)

    def refresh_layers(self, event: Any = None) -> None:
        """Offer the labels and boxes layers on the open scan's grid in the three choosers, keeping the
        user's choices while their layers are offered and choosing the others by default: the newest
        annotation as the truth, the newest model output as the prediction, never one layer as both."""
        layers = comparable_layers(self.viewer)
        names = [layer.name for layer in layers]
        pred, truth = self._picked_layer(self._pred, layers), self._picked_layer(self._truth, layers)
        truth = truth or newest_truth(layers, taken=pred)
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
        self._default_restriction()
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
        if isinstance(truth, Labels):
            work = label_scoring(pred, truth, compare, self._annotated_only.isChecked(), self._last_scored)
        else:
            threshold = self.score_threshold
            work = box_scoring(pred, truth, compare, threshold.iou.value(), threshold.threshold)
        if isinstance(truth, Labels) and np.asarray(truth.data).size > WORKER_VOXELS:
            if self.task_bar.busy:
                self._refresh_timer.start()  # an edit while scoring: score again when it ends
                return
            self.task_bar.start(work, self._show, description="Scoring")
        else:
            self._show(work(lambda fraction, message: None, CancelToken()))

    def _show(self, result: Scored | list[DetectionReview]) -> None:
        self.classification = None
        self._box_style.restore()
        reviews = result.reviews if isinstance(result, Scored) else result
        self._last_scored = result if isinstance(result, Scored) else None
        self.review = reviews[0]
        self.comparison = reviews[1] if len(reviews) > 1 else None
        self._export_button.setEnabled(True)
        self._status.setText(self._scored_text())
        boxes = self._boxes()
        self.score_threshold.setVisible(boxes)
        self._annotated_only.setVisible(not boxes)
        if boxes:
            self._show_boxes()
        else:
            self.results.show_segmentation(
                self.review, self._columns(), self._label_names(), self._current_slice()
            )
            self._show_comparison()
            self._update_error_layer()

    def _show_boxes(self) -> None:
        """Table, curves, layer look and errors of the box review at the slider's threshold."""
        self.results.show_detection(self.review, self._box_names())
        truth, pred = self._layer(self._truth.currentText()), self._layer(self._pred.currentText())
        if truth is not None and pred is not None:
            self._box_style.show(truth, pred, self.review, self._box_names(), self._errors.isChecked())
        self._show_comparison()
        self._update_error_layer()

    def _threshold_changed(self, threshold: float) -> None:
        if not self._boxes():
            return
        iou = self.score_threshold.iou.value()
        self.review = at_score_threshold(self.review, threshold, iou)
        if isinstance(self.comparison, DetectionReview):
            self.comparison = at_score_threshold(self.comparison, threshold, iou)
        self._show_boxes()

    def _rescore(self, kind: type) -> None:
        """Score again after an option of the shown ``kind`` of review changed."""
        if isinstance(self.review, kind):
            self.evaluate()

    # ------------------------------------------------------------------------------------ what to see
    def table_rows(self) -> list[list[str]]:
        """The table's cells as the user reads them, header row first."""
        return self.results.table_rows()

    def jump_to_slice(self, index: int) -> None:
        """Move the viewer to slice ``index`` (first array axis) of the truth layer."""
        truth = self._layer(self._truth.currentText())
        if truth is None or truth.ndim < 3:
            return
        world = truth.data_to_world(np.r_[float(index), np.zeros(truth.ndim - 1)])
        self.viewer.dims.set_point(0, float(world[0]))

    def go_to_worst_slice(self, label: int) -> None:
        """Move the viewer to the slice of lowest Dice of ``label`` (among those holding it)."""
        worst = self.review.worst_slice(label) if isinstance(self.review, SegmentationReview) else None
        if worst is not None:
            self.jump_to_slice(worst)
            name = self._label_names().get(label, f"label {label}")
            self._status.setText(
                f"{name}: worst slice {worst} (Dice {cell(self.review.slice_dice[label][worst])})"
            )

    def export_csv(self, path: str | Path) -> Path:
        """Write the per-label metrics of the shown prediction as CSV (metric keys, volumes in mL)."""
        rows = csv_rows(self.review, self.classification, self._pred.currentText(), self._label_names())
        return rows_to_csv(rows, path)

    def load_classes(self, truth_path: str | Path, pred_path: str | Path) -> None:
        """Score class JSON files (see :mod:`medview.metrics.class_json`) in a worker and show them."""
        self.task_bar.start(
            class_scoring(truth_path, pred_path), self._show_classes, description="Scoring classes"
        )

    def _show_classes(self, result: tuple[ClassCases, dict]) -> None:
        cases, metrics = result
        self._box_style.restore()
        self.review, self.comparison, self._last_scored = None, None, None
        self.classification = metrics
        self._export_button.setEnabled(True)
        self._status.setText(f"{len(cases.ids)} cases, {metrics['classes']} classes")
        self.results.show_classes(cases, metrics)

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
    def _scored_text(self) -> str:
        text = f"{self._pred.currentText()} against {self._truth.currentText()}"
        slices = getattr(self.review, "slices", None)
        if slices is not None:
            text += f", on {len(slices)} annotated slices" if slices else ": no annotated slice to score"
        truth = self._layer(self._truth.currentText())
        if isinstance(self.review, SegmentationReview) and scan_units(self.viewer, truth) == "pixel":
            text += " (the pixel size is unknown: distances in px)"
        return text

    def _columns(self) -> tuple[MetricColumn, ...]:
        truth = self._layer(self._truth.currentText())
        if truth is None:  # removed while it was scored: its units are no longer known
            return segmentation_columns("pixel", 3)
        return segmentation_columns(scan_units(self.viewer, truth), truth.ndim)

    def _show_comparison(self) -> None:
        compared = None
        if self.comparison is not None:
            compared = differences(self._named(self.review), self._named(self.comparison))
        self.results.show_comparison(compared, self._pred.currentText(), self._compare.currentText())

    def _named(self, review: SegmentationReview | DetectionReview) -> dict[str, float]:
        if isinstance(review, DetectionReview):
            return detection_metric_names(review, self._box_names())
        return segmentation_metric_names(review, self._columns(), self._label_names())

    def _update_error_layer(self, checked: bool | None = None) -> None:
        pred, truth = self._layer(self._pred.currentText()), self._layer(self._truth.currentText())
        name = f"{self._pred.currentText()}{ERRORS_SUFFIX}"
        existing = self._layer(name)
        if self._errors.isChecked() and self._boxes() and truth is not None:
            show_box_errors(self.viewer, truth, self.review, name)
            return
        if self._errors.isChecked() and isinstance(pred, Labels) and isinstance(truth, Labels):
            show_label_errors(self.viewer, pred, truth, name)
        elif existing is not None:
            self.viewer.layers.remove(existing)

    def _mark_current_slice(self, event: Any = None) -> None:
        if isinstance(self.review, SegmentationReview):
            self.results.mark_slice(self._current_slice())

    # ---------------------------------------------------------------------------------------- helpers
    def _boxes(self) -> bool:
        return isinstance(self.review, DetectionReview)

    def _current_slice(self) -> int | None:
        """The slice (first array axis of the truth) the viewer shows, if the truth is a volume."""
        truth = self._layer(self._truth.currentText())
        if truth is None or truth.ndim < 3:
            return None
        return int(round(float(truth.world_to_data(self.viewer.dims.point)[0])))

    def _default_restriction(self, name: str = "") -> None:
        """Set "Annotated slices only" to its default whenever another pair of layers is chosen."""
        pair = (self._pred.currentText(), self._truth.currentText())
        if pair == self._restriction_pair:
            return
        self._restriction_pair = pair
        pred, truth = self._layer(pair[0]), self._layer(pair[1])
        self._annotated_only.blockSignals(True)
        self._annotated_only.setChecked(annotated_only_by_default(pred, truth))
        self._annotated_only.blockSignals(False)
        self._annotated_only.setEnabled(isinstance(truth, Labels) and truth.ndim >= 3)

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
        return label_names(self._layer(box.currentText()) for box in (self._pred, self._truth))

    def _box_names(self) -> dict[int, str]:
        layers = (self._layer(box.currentText()) for box in (self._truth, self._pred))
        return {k: v for layer in layers if layer is not None for k, v in box_class_names(layer).items()}

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


def _edit_events(layer: Layer) -> list:
    events = [layer.events.data]
    if hasattr(layer.events, "paint"):
        events.append(layer.events.paint)
    return events
