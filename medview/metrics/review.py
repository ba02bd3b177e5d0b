"""Everything the metrics panel shows for one case, computed in one call that a worker can run.

:func:`review_segmentation` and :func:`review_detection` take ``(progress, cancel)`` like every long
core function; the panel runs them off the GUI thread and only draws their results.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass

import numpy as np

from medview.core.boxes import Box
from medview.core.progress import CancelToken, ProgressCallback, no_progress
from medview.metrics.detection import evaluate_detection, froc_curve, precision_recall_curve
from medview.metrics.segmentation import (
    DEFAULT_TOLERANCE_MM,
    binary_metrics,
    foreground_window,
    present_labels,
)
from medview.metrics.slices import slice_dice


@dataclass(frozen=True)
class SegmentationReview:
    """Per-label metrics, per-slice Dice (first array axis) and the voxel confusion of label values.

    Attributes:
        metrics: ``{label: {metric: value}}`` as :func:`medview.metrics.evaluate_segmentation`.
        slice_dice: ``{label: Dice per slice}`` (nan where neither map has the label).
        values: the label values, background 0 first, that index ``confusion``.
        confusion: voxel counts, row = true value, column = predicted value.
    """

    metrics: dict[int, dict[str, float]]
    slice_dice: dict[int, np.ndarray]
    values: list[int]
    confusion: np.ndarray


@dataclass(frozen=True)
class DetectionReview:
    """Detection metrics with the precision-recall and FROC curves (all classes pooled)."""

    metrics: dict
    recall: np.ndarray
    precision: np.ndarray
    froc_fps: np.ndarray
    froc_sensitivity: np.ndarray


def review_segmentation(
    pred: np.ndarray,
    truth: np.ndarray,
    spacing: Sequence[float],
    tolerance_mm: float = DEFAULT_TOLERANCE_MM,
    progress: ProgressCallback = no_progress,
    cancel: CancelToken | None = None,
    previous: SegmentationReview | None = None,
    changed: Collection[int] = (),
) -> SegmentationReview:
    """Score two label maps of one case for the panel (arrays in array order, spacing in mm).

    After an edit, pass the ``previous`` review and the labels the edit ``changed`` (see
    :func:`changed_labels`): the other labels' metrics and per-slice Dice are reused, not recomputed.
    """
    pred, truth = np.asarray(pred), np.asarray(truth)
    if pred.shape != truth.shape:
        raise ValueError(f"prediction shape {pred.shape} differs from truth shape {truth.shape}")
    window = foreground_window(pred, truth)
    pred_crop, truth_crop = pred[window], truth[window]
    outside = pred.size - pred_crop.size
    labels = present_labels(pred_crop, truth_crop)
    metrics: dict[int, dict[str, float]] = {}
    per_slice: dict[int, np.ndarray] = {}
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
        dice = np.full(pred.shape[0], np.nan)
        dice[window[0]] = slice_dice(pred_crop, truth_crop, label)
        per_slice[label] = dice
    values = [0, *labels]
    confusion = _label_confusion(pred_crop, truth_crop, values)
    confusion[0, 0] += outside
    progress(1.0, "Scored")
    return SegmentationReview(metrics, per_slice, values, confusion)


def changed_labels(before: np.ndarray, after: np.ndarray) -> set[int]:
    """The values (background included) of the voxels that differ between two versions of a label map."""
    differ = before != after
    return {int(v) for v in np.unique(before[differ])} | {int(v) for v in np.unique(after[differ])}


def review_detection(
    pred: Sequence[Box],
    truth: Sequence[Box],
    iou_threshold: float = 0.5,
    score_threshold: float = 0.5,
    progress: ProgressCallback = no_progress,
    cancel: CancelToken | None = None,
) -> DetectionReview:
    """Score two box sets of one image for the panel."""
    progress(0.0, "Matching boxes")
    metrics = evaluate_detection([pred], [truth], iou_threshold, score_threshold)
    if cancel is not None:
        cancel.raise_if_cancelled()
    recall, precision = precision_recall_curve([pred], [truth], iou_threshold=iou_threshold)
    fps, sensitivity = froc_curve([pred], [truth], iou_threshold)
    progress(1.0, "Scored")
    return DetectionReview(metrics, recall, precision, fps, sensitivity)


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
