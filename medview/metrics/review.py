"""Everything the metrics panel shows for one case, computed in one call that a worker can run.

:func:`review_segmentation` and :func:`review_detection` take ``(progress, cancel)`` like every long
core function; the panel runs them off the GUI thread and only draws their results. A partial
annotation is scored on its annotated slices only (``slices``, see
:func:`medview.metrics.slices.annotated_slices`); boxes are re-scored at another score threshold by
:func:`at_score_threshold`. :func:`segmentation_columns` and :func:`detection_metric_names` name the
numbers in words and in the scan's units (mm, µm, or pixels when the pixel size is unknown).
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass, replace

import numpy as np

from medview.core.boxes import Box
from medview.core.progress import CancelToken, ProgressCallback, no_progress
from medview.metrics.case_scores import box_scores
from medview.metrics.detection import (
    COCO_IOUS,
    evaluate_detection,
    froc_curve,
    match_boxes,
    precision_recall,
    precision_recall_curve,
)
from medview.metrics.segmentation import (
    DEFAULT_TOLERANCE_MM,
    binary_metrics,
    foreground_window,
    present_labels,
)
from medview.metrics.slices import slice_dice, worst_slice

UNIT_TEXT = {"mm": "mm", "um": "µm", "pixel": "px"}
"""How :attr:`medview.core.scan.Scan.units` is written in headings."""


@dataclass(frozen=True)
class SegmentationReview:
    """Per-label metrics, per-slice Dice (first array axis) and the voxel confusion of label values.

    Attributes:
        metrics: ``{label: {metric: value}}`` as :func:`medview.metrics.evaluate_segmentation`.
        slice_dice: ``{label: Dice per slice}`` (nan where neither map has the label, and on the
            slices left out of scoring).
        values: the label values, background 0 first, that index ``confusion``.
        confusion: voxel counts, row = true value, column = predicted value.
        slices: the slices (first array axis) that were scored, ascending; ``None`` for all of them.
    """

    metrics: dict[int, dict[str, float]]
    slice_dice: dict[int, np.ndarray]
    values: list[int]
    confusion: np.ndarray
    slices: tuple[int, ...] | None = None

    def worst_slice(self, label: int) -> int | None:
        """The slice of ``label``'s lowest Dice among those where either map has it, if any."""
        dice = self.slice_dice.get(label)
        return None if dice is None else worst_slice(dice)


@dataclass(frozen=True)
class OperatingPoint:
    """How the predicted boxes scoring at least ``score_threshold`` match the true boxes.

    Attributes:
        shown: per predicted box, whether it scores at least the threshold (and so counts).
        false_positive: per predicted box, shown but matching no true box.
        missed: per true box, matched by no shown prediction.
    """

    score_threshold: float
    iou_threshold: float
    precision: float
    recall: float
    f1: float
    shown: np.ndarray
    false_positive: np.ndarray
    missed: np.ndarray

    @property
    def false_positives(self) -> int:
        """How many shown predictions match no true box (per image: the review is of one image)."""
        return int(np.count_nonzero(self.false_positive))


@dataclass(frozen=True)
class DetectionReview:
    """Detection metrics with the precision-recall and FROC curves (all classes pooled), the boxes
    they came from and how those boxes match at the chosen score threshold (``point``)."""

    metrics: dict
    recall: np.ndarray
    precision: np.ndarray
    froc_fps: np.ndarray
    froc_sensitivity: np.ndarray
    pred: tuple[Box, ...] = ()
    truth: tuple[Box, ...] = ()
    point: OperatingPoint | None = None


@dataclass(frozen=True)
class MetricColumn:
    """One column of the per-label table: a key of :data:`~medview.metrics.segmentation.METRIC_KEYS`,
    its heading in words and units, and the factor from the metric's own unit to the heading's."""

    key: str
    heading: str
    scale: float = 1.0

    def value(self, metrics: dict[str, float]) -> float:
        """The column's value in the heading's unit."""
        return metrics[self.key] * self.scale


def review_segmentation(
    pred: np.ndarray,
    truth: np.ndarray,
    spacing: Sequence[float],
    tolerance_mm: float = DEFAULT_TOLERANCE_MM,
    progress: ProgressCallback = no_progress,
    cancel: CancelToken | None = None,
    previous: SegmentationReview | None = None,
    changed: Collection[int] = (),
    slices: Sequence[int] | None = None,
) -> SegmentationReview:
    """Score two label maps of one case for the panel (arrays in array order, spacing in mm).

    After an edit, pass the ``previous`` review and the labels the edit ``changed`` (see
    :func:`changed_labels`): the other labels' metrics and per-slice Dice are reused, not recomputed
    (the previous review must have scored the same ``slices``).

    ``slices`` (indices along the first axis) scores those slices only, as if the volume held nothing
    else: overlap, volumes, true negatives and the confusion count their voxels alone, and surfaces
    and distances are those of the masks cut to them (each run of slices capped at its ends, the real
    slice spacing between runs), so a truth annotated on a few slices is not compared with a
    prediction on slices nobody labelled.
    """
    pred, truth = np.asarray(pred), np.asarray(truth)
    if pred.shape != truth.shape:
        raise ValueError(f"prediction shape {pred.shape} differs from truth shape {truth.shape}")
    slice_count, scored, offset, chosen = pred.shape[0], pred.size, 0, None
    if slices is not None:
        chosen = tuple(int(s) for s in np.unique(np.asarray(slices, dtype=int)))
        if chosen and (chosen[0] < 0 or chosen[-1] >= slice_count):
            raise ValueError(f"slices {chosen[0]}..{chosen[-1]} lie outside 0..{slice_count - 1}")
        if not chosen:
            return SegmentationReview({}, {}, [0], np.zeros((1, 1), dtype=np.int64), chosen)
        pred, truth, offset = _cut_to_slices(pred, truth, chosen)
        scored = len(chosen) * pred[0].size
    window = foreground_window(pred, truth)
    pred_crop, truth_crop = pred[window], truth[window]
    outside = scored - pred_crop.size  # below zero when the crop spans slices left out: they are no TN
    labels = present_labels(pred_crop, truth_crop)
    metrics: dict[int, dict[str, float]] = {}
    per_slice: dict[int, np.ndarray] = {}
    rows = slice(offset + window[0].start, offset + window[0].stop)
    for index, label in enumerate(labels):
        if cancel is not None:
            cancel.raise_if_cancelled()
        progress(index / max(len(labels), 1), f"Scoring label {label}")
        if previous is not None and label in previous.metrics and label not in changed:
            metrics[label], per_slice[label] = previous.metrics[label], previous.slice_dice[label]
            continue
        metrics[label] = binary_metrics(
            pred_crop == label, truth_crop == label, spacing, tolerance_mm, outside=outside
        )
        dice = np.full(slice_count, np.nan)
        dice[rows] = slice_dice(pred_crop, truth_crop, label)
        per_slice[label] = dice
    values = [0, *labels]
    confusion = _label_confusion(pred_crop, truth_crop, values)
    confusion[0, 0] += outside
    progress(1.0, "Scored")
    return SegmentationReview(metrics, per_slice, values, confusion, chosen)


def changed_labels(before: np.ndarray, after: np.ndarray) -> set[int]:
    """The values (background included) of the voxels that differ between two versions of a label map."""
    differ = before != after
    return {int(v) for v in np.unique(before[differ])} | {int(v) for v in np.unique(after[differ])}


def confusion_by_true_class(confusion: np.ndarray) -> np.ndarray:
    """Each row of a confusion matrix (row = true class) divided by its total: the fraction of each true
    class predicted as each class (the diagonal is per-class recall); a class with no case is nan."""
    confusion = np.asarray(confusion, dtype=float)
    totals = confusion.sum(axis=1, keepdims=True)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(totals > 0, confusion / totals, np.nan)


def segmentation_columns(
    units: str, ndim: int, tolerance_mm: float = DEFAULT_TOLERANCE_MM
) -> tuple[MetricColumn, ...]:
    """The per-label table's columns for a scan whose spacing is in ``units`` (``mm``, ``um`` or
    ``pixel``, see :attr:`medview.core.scan.Scan.units`) with ``ndim`` spatial axes.

    Distances are in the scan's unit (``px`` when the pixel size is unknown, never mm); volumes are in
    mL for mm volumes (1 mL = 1000 mm³), areas of 2D images in mm², µm² or px², and volumes of
    µm or pixel volumes in µm³ or px³. Specificity and accuracy (near 1 for any small structure), the
    plain Hausdorff distance and F1 (= Dice) are left to the CSV export.
    """
    unit = UNIT_TEXT[units]
    size = "volume" if ndim >= 3 else "area"
    if units == "mm" and ndim >= 3:
        size_unit, size_scale = "mL", 1.0
    else:  # the metric is voxels × voxel size / 1000: back to voxel-size units (px² or px³ for pixels)
        size_unit, size_scale = f"{unit}{'³' if ndim >= 3 else '²'}", 1000.0
    return (
        MetricColumn("dice", "Dice"),
        MetricColumn("iou", "IoU"),
        MetricColumn("sensitivity", "sensitivity"),
        MetricColumn("precision", "precision"),
        MetricColumn("hd95", f"HD95 ({unit})"),
        MetricColumn("assd", f"ASSD ({unit})"),
        MetricColumn("nsd", f"surface Dice at {tolerance_mm:g} {unit}"),
        MetricColumn("volume_ml_truth", f"true {size} ({size_unit})", size_scale),
        MetricColumn("volume_ml_pred", f"predicted {size} ({size_unit})", size_scale),
        MetricColumn("volume_ml_diff", f"{size} difference ({size_unit})", size_scale),
    )


def segmentation_metric_names(
    review: SegmentationReview, columns: Sequence[MetricColumn], label_names: dict[int, str]
) -> dict[str, float]:
    """``{"liver Dice": ..., "liver HD95 (mm)": ...}``: each label's metrics under ``columns``."""
    return {
        f"{label_names.get(label, f'label {label}')} {column.heading}": column.value(values)
        for label, values in review.metrics.items()
        for column in columns
    }


def differences(first: dict[str, float], second: dict[str, float]) -> dict[str, tuple[float, float, float]]:
    """``{name: (first, second, second - first)}`` for the names both hold, in ``first``'s order."""
    return {name: (a, second[name], second[name] - a) for name, a in first.items() if name in second}


def review_detection(
    pred: Sequence[Box],
    truth: Sequence[Box],
    iou_threshold: float = 0.5,
    score_threshold: float = 0.5,
    progress: ProgressCallback = no_progress,
    cancel: CancelToken | None = None,
) -> DetectionReview:
    """Score two box sets of one image for the panel; ``metrics`` holds ``f1`` besides the keys of
    :func:`~medview.metrics.detection.evaluate_detection`."""
    progress(0.0, "Matching boxes")
    metrics = evaluate_detection([pred], [truth], iou_threshold, score_threshold)
    if cancel is not None:
        cancel.raise_if_cancelled()
    recall, precision = precision_recall_curve([pred], [truth], iou_threshold=iou_threshold)
    fps, sensitivity = froc_curve([pred], [truth], iou_threshold)
    review = DetectionReview(metrics, recall, precision, fps, sensitivity, tuple(pred), tuple(truth))
    progress(1.0, "Scored")
    return at_score_threshold(review, score_threshold, iou_threshold)


def at_score_threshold(
    review: DetectionReview, score_threshold: float, iou_threshold: float = 0.5
) -> DetectionReview:
    """``review`` with precision, recall, F1 and the matches of the predictions scoring at least
    ``score_threshold``; average precision and FROC (which sweep every score) are kept."""
    point = operating_point(review.pred, review.truth, score_threshold, iou_threshold)
    metrics = review.metrics | {"precision": point.precision, "recall": point.recall, "f1": point.f1}
    return replace(review, metrics=metrics, point=point)


def operating_point(
    pred: Sequence[Box], truth: Sequence[Box], score_threshold: float, iou_threshold: float = 0.5
) -> OperatingPoint:
    """Which predictions count at ``score_threshold``, which of them are false positives and which true
    boxes they miss, with precision, recall and F1 (:func:`medview.metrics.case_scores.box_scores`)."""
    precision, recall = precision_recall([pred], [truth], iou_threshold, score_threshold)
    shown = np.array([box.score >= score_threshold for box in pred], dtype=bool)
    kept = [box for box, keep in zip(pred, shown, strict=True) if keep]
    matched = match_boxes(kept, truth, iou_threshold)
    false_positive = np.zeros(len(pred), dtype=bool)
    false_positive[np.flatnonzero(shown)[matched < 0]] = True
    missed = np.ones(len(truth), dtype=bool)
    missed[matched[matched >= 0]] = False
    f1 = box_scores(pred, truth, iou_threshold, score_threshold)["f1"]  # the F1 training reports
    return OperatingPoint(
        score_threshold, iou_threshold, precision, recall, f1, shown, false_positive, missed
    )


def detection_metric_names(review: DetectionReview, label_names: dict[int, str]) -> dict[str, float]:
    """The detection metrics under names in words, in reading order: average precision (overall, then
    per class), precision, recall and F1 at the score threshold, then FROC sensitivities."""
    iou = review.point.iou_threshold if review.point is not None else 0.5
    metrics = review.metrics
    named = {
        "AP at IoU 0.5": metrics["map50"],
        f"AP at IoU {COCO_IOUS[0]:g}:{COCO_IOUS[-1]:g}": metrics["map50_95"],
    }
    for label, value in metrics["ap"].items():
        named[f"AP at IoU {iou:g}, {label_names.get(label, f'class {label}')}"] = value
    named |= {
        f"precision at IoU {iou:g}": metrics["precision"],
        f"recall at IoU {iou:g}": metrics["recall"],
    }
    if "f1" in metrics:
        named[f"F1 at IoU {iou:g}"] = metrics["f1"]
    for rate, value in metrics["froc"].items():
        if rate == "score":
            continue
        plural = "" if rate == "1" else "s"
        named[f"sensitivity at {rate} false positive{plural} per image"] = value
    rates = [rate for rate in metrics["froc"] if rate != "score"]
    if rates:
        named[f"mean sensitivity at {rates[0]} to {rates[-1]} false positives per image"] = metrics["froc"][
            "score"
        ]
    return named


def _cut_to_slices(
    pred: np.ndarray, truth: np.ndarray, chosen: tuple[int, ...]
) -> tuple[np.ndarray, np.ndarray, int]:
    """The maps from the first to the last chosen slice (at least one) with the slices between them
    not chosen emptied (copies only then), and the index of their first slice."""
    first, stop = chosen[0], chosen[-1] + 1
    pred, truth = pred[first:stop], truth[first:stop]
    left_out = np.ones(stop - first, dtype=bool)
    left_out[np.subtract(chosen, first)] = False
    if left_out.any():
        pred, truth = pred.copy(), truth.copy()
        pred[left_out] = 0
        truth[left_out] = 0
    return pred, truth, first


def _label_confusion(pred: np.ndarray, truth: np.ndarray, values: list[int]) -> np.ndarray:
    """Voxel counts of (true value, predicted value) for ``values``, which hold every value present.

    Off-diagonal counts come from the disagreeing voxels only (few, so cheap to index); the diagonal
    is each true value's count minus its disagreements. A full joint histogram of a 512x512x300
    volume takes seconds; this takes a few passes of comparisons.
    """
    size = len(values)
    lookup = np.zeros(max(values) + 1, dtype=np.int64)
    lookup[values] = np.arange(size)
    disagree = pred != truth
    codes = lookup[truth[disagree]] * size + lookup[pred[disagree]]
    confusion = np.bincount(codes, minlength=size * size).reshape(size, size)
    for index, value in enumerate(values[1:], start=1):
        confusion[index, index] = np.count_nonzero(truth == value) - confusion[index].sum()
    confusion[0, 0] = truth.size - confusion.sum()
    return confusion
