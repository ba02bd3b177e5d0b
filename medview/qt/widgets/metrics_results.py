"""What the Metrics panel's "Layers" tab shows once something is scored: the metrics table (rows of
labels, clicked to go to a label's worst slice), the side-by-side comparison, and two plots that can
be saved, the per-slice Dice (or FROC, or ROC) above the confusion matrix (or precision-recall curve).
Until then a one-line hint stands in for the empty plots. It draws what it is given; the panel decides
what to score and in which units."""

from __future__ import annotations

import numpy as np
from qtpy.QtCore import Signal
from qtpy.QtWidgets import QCheckBox, QLabel, QTableWidget, QVBoxLayout, QWidget

from medview.metrics.class_json import ClassCases
from medview.metrics.classification import SCORE_KEYS
from medview.metrics.review import DetectionReview, MetricColumn, SegmentationReview, detection_metric_names
from medview.qt.widgets.metric_plots import (
    fit_cell_texts,
    move_slice_marker,
    plot_confusion,
    plot_detection_curves,
    plot_roc_and_precision_recall,
    plot_slice_dice,
)
from medview.qt.widgets.metrics_views import cell, fill_table, segmentation_rows
from medview.qt.widgets.plot_canvas import PlotBox, PlotCanvas

PLACEHOLDER = "Choose a prediction and a truth, then Evaluate."


class MetricsResults(QWidget):
    """The tables and plots of one scoring; ``label_clicked(label)`` when a label's row is clicked."""

    label_clicked = Signal(int)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.table = QTableWidget()
        self.table.setEditTriggers(QTableWidget.EditTrigger.NoEditTriggers)
        self.table.setSelectionBehavior(QTableWidget.SelectionBehavior.SelectRows)
        self.table.verticalHeader().setVisible(False)  # row numbers say nothing; the first column names
        self.comparison_table = QTableWidget()
        self.comparison_table.verticalHeader().setVisible(False)
        self.slice_plot = PlotCanvas()
        self.summary_plot = PlotCanvas()
        self.normalised = QCheckBox("Normalised by true class")
        self.normalised.setChecked(True)
        self.normalised.setToolTip(
            "Each row of the confusion matrix as fractions of its true class; off: counts"
        )
        self.placeholder = QLabel(PLACEHOLDER)
        self.placeholder.setStyleSheet("color: gray;")
        self._plots = [PlotBox(self.slice_plot), PlotBox(self.summary_plot)]
        self._row_labels: list[int] = []
        self._confusion: tuple[np.ndarray, list[str], str] | None = None  # matrix, names, what it counts
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        for widget in (self.table, self.comparison_table, self.placeholder, self._plots[0], self.normalised):
            layout.addWidget(widget)
        layout.addWidget(self._plots[1])
        for widget in (self.table, self.comparison_table, self.normalised, *self._plots):
            widget.setVisible(False)
        self.table.cellClicked.connect(self._row_clicked)
        self.normalised.toggled.connect(self._draw_confusion)
        self.summary_plot.mpl_connect("resize_event", lambda event: fit_cell_texts(self.summary_plot))

    def show_segmentation(
        self,
        review: SegmentationReview,
        columns: tuple[MetricColumn, ...],
        names: dict[int, str],
        current_slice: int | None,
    ) -> None:
        """A row per label under ``columns``, per-slice Dice and the confusion of label values."""
        self._show_plots(confusion=True)
        header, rows, self._row_labels = segmentation_rows(review, columns, names)
        fill_table(self.table, header, rows)
        plot_slice_dice(self.slice_plot, review.slice_dice, names, review.slices, current_slice)
        names = names | {0: "background"}
        self._confusion = (review.confusion, [names.get(v, str(v)) for v in review.values], "voxel")
        self._draw_confusion()

    def show_detection(self, review: DetectionReview, names: dict[int, str]) -> None:
        """The detection metrics in words, FROC above and precision-recall below."""
        self._show_plots(confusion=False)
        self._row_labels, self._confusion = [], None
        named = detection_metric_names(review, names)
        fill_table(self.table, ["metric", "value"], [[key, cell(value)] for key, value in named.items()])
        plot_detection_curves(self.slice_plot, self.summary_plot, review)

    def show_classes(self, cases: ClassCases, metrics: dict) -> None:
        """Class scores with their 95% intervals, ROC and precision-recall curves, the confusion matrix."""
        self._show_plots(confusion=True)
        rows = [
            [key, cell(metrics[key].value), f"{cell(metrics[key].low)} – {cell(metrics[key].high)}"]
            for key in SCORE_KEYS
        ]
        fill_table(self.table, ["metric", "value", "95% CI"], rows)
        self._row_labels = []
        self.show_comparison(None, "", "")
        plot_roc_and_precision_recall(self.slice_plot, cases)
        names = [cases.labels[k] if k < len(cases.labels) else str(k) for k in range(metrics["classes"])]
        self._confusion = (np.array(metrics["confusion"]), names, "case")
        self._draw_confusion()

    def show_comparison(
        self, compared: dict[str, tuple[float, float, float]] | None, first: str, second: str
    ) -> None:
        """Two predictions' metrics side by side with their differences (hidden for ``None``)."""
        self.comparison_table.setVisible(compared is not None)
        if compared is not None:
            rows = [[name, cell(a), cell(b), cell(d)] for name, (a, b, d) in compared.items()]
            fill_table(self.comparison_table, ["metric", first, second, "difference"], rows)

    def mark_slice(self, index: int | None) -> None:
        """Move the per-slice plot's current-slice line (there is none on other plots)."""
        move_slice_marker(self.slice_plot, index)

    def table_rows(self) -> list[list[str]]:
        """The table's cells as the user reads them, header row first."""
        header = [self.table.horizontalHeaderItem(c).text() for c in range(self.table.columnCount())]
        cells = [
            [self.table.item(r, c).text() for c in range(self.table.columnCount())]
            for r in range(self.table.rowCount())
        ]
        return [header, *cells]

    def _show_plots(self, confusion: bool) -> None:
        self.placeholder.setVisible(False)
        for widget in (self.table, *self._plots):
            widget.setVisible(True)
        self.normalised.setVisible(confusion)

    def _draw_confusion(self, checked: bool | None = None) -> None:
        if self._confusion is not None:
            matrix, names, counted = self._confusion
            plot_confusion(self.summary_plot, matrix, names, self.normalised.isChecked(), counted)

    def _row_clicked(self, row: int, column: int) -> None:
        if row < len(self._row_labels):
            self.label_clicked.emit(self._row_labels[row])
