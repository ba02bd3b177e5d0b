"""How the Metrics panel shows numbers: table cells and rows, per-slice Dice, the confusion of label
values or classes, ROC and precision-recall curves of classes, and the precision-recall and FROC
curves of boxes."""

from __future__ import annotations

import numpy as np
from qtpy.QtWidgets import QTableWidget, QTableWidgetItem

from medview.metrics.class_json import ClassCases
from medview.metrics.classification import precision_recall_curve, roc_curve
from medview.metrics.review import DetectionReview
from medview.qt.widgets.plot_canvas import PlotCanvas


def cell(value: float) -> str:
    """A metric as a table shows it: four significant digits, a dash for NaN, ∞ for infinity."""
    if np.isnan(value):
        return "–"
    if np.isinf(value):
        return "∞"
    return f"{value:.4g}"


def flat_metrics(metrics: dict) -> dict[str, float]:
    """Nested detection metrics as ``{"ap 1": ..., "froc 1/8": ...}``."""
    flat: dict[str, float] = {}
    for key, value in metrics.items():
        if isinstance(value, dict):
            flat |= {f"{key} {inner}": float(v) for inner, v in value.items()}
        else:
            flat[key] = float(value)
    return flat


def fill_table(table: QTableWidget, header: list[str], rows: list[list[str]]) -> None:
    """Show ``rows`` of cell texts under ``header`` in ``table``, columns fitted to their contents."""
    table.clear()
    table.setColumnCount(len(header))
    table.setRowCount(len(rows))
    table.setHorizontalHeaderLabels(header)
    for r, row in enumerate(rows):
        for c, text in enumerate(row):
            table.setItem(r, c, QTableWidgetItem(text))
    table.resizeColumnsToContents()


def plot_slice_dice(canvas: PlotCanvas, slice_dice: dict[int, np.ndarray], names: dict[int, str]) -> None:
    """Dice of each label on each slice (clicking the plot moves the viewer there)."""
    axes = canvas.axes
    axes.clear()
    for label, dice in slice_dice.items():
        name = names.get(label, f"label {label}")
        axes.plot(np.arange(dice.size), dice, marker=".", markersize=3, label=name)
    axes.set_xlabel("slice (click to go there)")
    axes.set_ylabel("Dice")
    axes.set_ylim(-0.05, 1.05)
    if slice_dice:
        axes.legend(fontsize="small", loc="lower right")
    canvas.draw_idle()


def plot_confusion(canvas: PlotCanvas, matrix: np.ndarray, names: list[str]) -> None:
    """Counts coloured on a log scale, true class down, predicted across."""
    axes = canvas.axes
    axes.clear()
    axes.imshow(np.log1p(matrix), cmap="Blues")
    axes.set_xticks(range(len(names)), names, rotation=45, ha="right", fontsize="small")
    axes.set_yticks(range(len(names)), names, fontsize="small")
    axes.set_xlabel("predicted")
    axes.set_ylabel("true")
    for (row, column), count in np.ndenumerate(matrix):
        axes.text(column, row, f"{count:,}", ha="center", va="center", fontsize="x-small")
    canvas.draw_idle()


def plot_roc_and_precision_recall(canvas: PlotCanvas, cases: ClassCases) -> None:
    """One-versus-rest ROC (solid) and precision-recall (dashed) curves of each class (class 1 of two)."""
    axes = canvas.axes
    axes.clear()
    shown = [1] if cases.probabilities.shape[1] == 2 else range(cases.probabilities.shape[1])
    for k in shown:
        name = cases.labels[k] if k < len(cases.labels) else f"class {k}"
        curve = roc_curve(cases.truth == k, cases.probabilities[:, k])
        recall, precision = precision_recall_curve(cases.truth == k, cases.probabilities[:, k])
        line = axes.plot(curve.fpr, curve.tpr, label=f"{name} ROC")[0]
        axes.plot(recall, precision, linestyle="--", color=line.get_color(), label=f"{name} PR")
    axes.set_xlabel("false-positive rate (ROC) / recall (PR)")
    axes.set_ylabel("TPR / precision")
    axes.set_xlim(0, 1.02)
    axes.set_ylim(0, 1.05)
    axes.legend(fontsize="x-small", loc="lower right")
    canvas.draw_idle()


def plot_detection_curves(upper: PlotCanvas, lower: PlotCanvas, review: DetectionReview) -> None:
    """Boxes: FROC in the upper plot, precision-recall in the lower one (no slices to show)."""
    axes = lower.axes
    axes.clear()
    axes.step(review.recall, review.precision, where="post")
    axes.set_xlabel("recall")
    axes.set_ylabel("precision")
    axes.set_xlim(0, 1.02)
    axes.set_ylim(0, 1.05)
    axes.set_title(f"AP50 {cell(review.metrics['map50'])}", fontsize="small")
    lower.draw_idle()
    axes = upper.axes
    axes.clear()
    axes.plot(review.froc_fps, review.froc_sensitivity, marker=".")
    axes.set_xlabel("false positives per image")
    axes.set_ylabel("sensitivity (FROC)")
    axes.set_ylim(0, 1.05)
    upper.draw_idle()
