"""The Metrics panel's plots: per-slice Dice with the current slice marked, the confusion of label
values or classes (readable at any class count), ROC and precision-recall curves of classes, and the
precision-recall and FROC curves of boxes with the chosen score threshold marked. Every number drawn
comes from :mod:`medview.metrics`; these functions only draw it."""

from __future__ import annotations

import numpy as np

from medview.metrics.class_json import ClassCases
from medview.metrics.classification import precision_recall_curve, roc_curve
from medview.metrics.review import DetectionReview, OperatingPoint, confusion_by_true_class
from medview.qt.widgets.plot_canvas import PlotCanvas

CURRENT_SLICE = "current slice"
"""The ``gid`` of the per-slice plot's vertical line at the slice the viewer shows."""
CELL = "confusion cell"
"""The ``gid`` of the confusion matrix's cell texts."""
_CELL_PIXELS = 36  # height of a confusion row on screen, so the figure grows with the class count
_MAX_CONFUSION_PIXELS = 900
_LARGEST_CELL_TEXT_PT = 10.0
_SKIPPED = "0.92"  # grey behind the slices a partial annotation leaves out


def plot_slice_dice(
    canvas: PlotCanvas,
    slice_dice: dict[int, np.ndarray],
    names: dict[int, str],
    scored: tuple[int, ...] | None = None,
    current: int | None = None,
) -> None:
    """Dice of each label on each slice (clicking the plot moves the viewer there), the slices left
    out of scoring (``scored`` lists those kept) greyed, and a dotted line at the ``current`` slice."""
    axes = canvas.axes
    axes.clear()
    count = next((dice.size for dice in slice_dice.values()), 0)
    for label, dice in slice_dice.items():
        axes.plot(
            np.arange(dice.size), dice, marker=".", markersize=4, label=names.get(label, f"label {label}")
        )
    if scored is not None and count:
        for first, last in _runs(sorted(set(range(count)) - set(scored))):
            axes.axvspan(first - 0.5, last + 0.5, color=_SKIPPED, zorder=0, linewidth=0)
        axes.set_title(f"Dice per slice, on the {len(scored)} annotated slices of {count}", fontsize="small")
    else:
        axes.set_title("Dice per slice", fontsize="small")
    marker = axes.axvline(0, color="0.25", linestyle=":", linewidth=1.2, gid=CURRENT_SLICE)
    marker.set_label(f"_{CURRENT_SLICE}")  # a leading underscore keeps it out of the legend
    marker.set_visible(False)
    if count:
        axes.set_xlim(-0.5, count - 0.5)
    axes.set_xlabel("slice (click to go there)")
    axes.set_ylabel("Dice")
    axes.set_ylim(-0.05, 1.05)
    if slice_dice:
        axes.legend(fontsize="small", loc="lower right")
    move_slice_marker(canvas, current)


def move_slice_marker(canvas: PlotCanvas, index: int | None) -> None:
    """Move the per-slice plot's current-slice line to slice ``index`` (hide it for ``None``)."""
    marker = next((line for line in canvas.axes.lines if line.get_gid() == CURRENT_SLICE), None)
    if marker is None:
        return
    marker.set_visible(index is not None)
    if index is not None:
        marker.set_xdata([index, index])
    canvas.draw_idle()


def plot_confusion(
    canvas: PlotCanvas, matrix: np.ndarray, names: list[str], normalised: bool = True, counted: str = "voxel"
) -> None:
    """True class down, predicted class across; each row as fractions of its true class (``normalised``)
    or as counts (of ``counted`` things: voxels, cases) coloured on a log scale. The figure grows with
    the class count and the cell texts shrink to fit their cells, so digits never run into each other."""
    axes = canvas.axes
    axes.clear()
    matrix = np.asarray(matrix)
    if normalised:
        shown = confusion_by_true_class(matrix)
        shade = np.nan_to_num(shown)
        texts = ["–" if np.isnan(v) else f"{v:.0%}" if v == 0 or v >= 0.01 else "<1%" for v in shown.ravel()]
    else:
        shown, shade = matrix, np.log1p(matrix.astype(float))
        texts = [f"{int(v):,}" for v in matrix.ravel()]
    top = max(float(shade.max()), 1e-9) if shade.size else 1.0
    axes.imshow(shade, cmap="Blues", vmin=0.0, vmax=1.0 if normalised else top, aspect="auto")
    size = len(names)
    axes.set_xticks(range(size), names, rotation=40, ha="right", rotation_mode="anchor", fontsize="small")
    axes.set_yticks(range(size), names, fontsize="small")
    axes.set_xlabel("predicted class")
    axes.set_ylabel("true class")
    axes.set_title("fraction of each true class" if normalised else f"{counted} counts", fontsize="small")
    for (row, column), text in zip(np.ndindex(shown.shape), texts, strict=True):
        dark = shade[row, column] > 0.6 * (1.0 if normalised else top)
        axes.text(column, row, text, ha="center", va="center", color="white" if dark else "black", gid=CELL)
    canvas.setMinimumHeight(min(_MAX_CONFUSION_PIXELS, 150 + _CELL_PIXELS * size))
    fit_cell_texts(canvas)
    canvas.draw_idle()


def fit_cell_texts(canvas: PlotCanvas) -> None:
    """Size the confusion cell texts to the cells as laid out now: the widest text fills at most 88%
    of a cell's width and the tallest 75% of its height, no larger than 10 pt. Call it again when the
    canvas is resized (its ``resize_event``); it does nothing on a plot without cell texts."""
    texts = [text for text in canvas.axes.texts if text.get_gid() == CELL]
    if not texts:
        return
    figure = canvas.figure
    if figure.get_layout_engine() is not None:
        figure.get_layout_engine().execute(figure)
    renderer = canvas.get_renderer()
    for text in texts:
        text.set_fontsize(_LARGEST_CELL_TEXT_PT)
    extents = [text.get_window_extent(renderer) for text in texts]
    (x0, y0), (x1, y1) = canvas.axes.transData.transform([(0, 0), (1, 1)])
    widest, tallest = max(e.width for e in extents), max(e.height for e in extents)
    factor = min(0.88 * abs(x1 - x0) / max(widest, 1e-6), 0.75 * abs(y1 - y0) / max(tallest, 1e-6), 1.0)
    for text in texts:
        text.set_fontsize(max(_LARGEST_CELL_TEXT_PT * factor, 1.0))


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
    axes.set_ylabel("true-positive rate / precision")
    axes.set_xlim(0, 1.02)
    axes.set_ylim(0, 1.05)
    axes.legend(fontsize="x-small", loc="lower right")
    canvas.draw_idle()


def plot_detection_curves(upper: PlotCanvas, lower: PlotCanvas, review: DetectionReview) -> None:
    """Boxes: FROC in the upper plot, precision-recall in the lower one (no slices to show), each with
    a dot where the chosen score threshold puts the predictions."""
    point = review.point
    axes = lower.axes
    axes.clear()
    axes.step(review.recall, review.precision, where="post", label="all scores")
    if point is not None:
        axes.plot([point.recall], [point.precision], "o", color="tab:red", label=_threshold_text(point))
    axes.set_xlabel("recall")
    axes.set_ylabel("precision")
    axes.set_xlim(0, 1.02)
    axes.set_ylim(0, 1.05)
    axes.set_title(f"precision and recall, AP at IoU 0.5: {review.metrics['map50']:.3g}", fontsize="small")
    axes.legend(fontsize="x-small", loc="lower left")
    lower.draw_idle()
    axes = upper.axes
    axes.clear()
    axes.plot(review.froc_fps, review.froc_sensitivity, marker=".", label="all scores")
    if point is not None:
        axes.plot([point.false_positives], [point.recall], "o", color="tab:red", label=_threshold_text(point))
    axes.set_xlabel("false positives per image")
    axes.set_ylabel("sensitivity")
    axes.set_ylim(0, 1.05)
    axes.set_title("FROC: sensitivity against false positives", fontsize="small")
    axes.legend(fontsize="x-small", loc="lower right")
    upper.draw_idle()


def _threshold_text(point: OperatingPoint) -> str:
    return f"score ≥ {point.score_threshold:.2f}"


def _runs(indices: list[int]) -> list[tuple[int, int]]:
    """Consecutive runs ``(first, last)`` of ascending integers."""
    runs: list[tuple[int, int]] = []
    for index in indices:
        if runs and index == runs[-1][1] + 1:
            runs[-1] = (runs[-1][0], index)
        else:
            runs.append((index, index))
    return runs
