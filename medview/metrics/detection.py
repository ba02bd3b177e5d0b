"""Detection metrics of predicted against true boxes (2D or 3D), over one or many images.

Boxes are :class:`medview.core.Box` in array index coordinates: ``start`` the inclusive min edge,
``stop`` the exclusive max edge, so a box's size is ``stop - start`` voxels and IoU is the ratio of
continuous volumes. Inputs are one list of boxes per image, predictions and truths in the same order.

Matching is COCO's: per image and class, predictions in descending score take, among the truths not
yet matched, the one of highest IoU if that IoU is at least the threshold; a prediction is a true
positive when matched. Average precision is COCO's 101-point interpolated AP (the precision envelope
sampled at recall 0, 0.01, ..., 1), not scikit-learn's step-wise sum; a class with no true box has no
AP and is left out of the mean. ``map50_95`` averages mAP over IoU 0.50, 0.55, ..., 0.95.

FROC: sensitivity (matched truths / all truths) against mean false positives per image as the score
threshold falls through every distinct score, read by linear interpolation at 1/8 ... 8 false positives
per image (MONAI's ``compute_froc_curve_data`` and ``compute_froc_score``, which skip the lowest score
as a threshold; here it is kept so the curve reaches every detection).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from medview.core.boxes import Box

Images = Sequence[Sequence[Box]]
COCO_IOUS = tuple(np.round(np.arange(0.5, 0.951, 0.05), 2))
FROC_RATES = (0.125, 0.25, 0.5, 1.0, 2.0, 4.0, 8.0)


def box_iou(first: Sequence[Box], second: Sequence[Box]) -> np.ndarray:
    """``(len(first), len(second))`` intersection over union of every pair of boxes."""
    if not first or not second:
        return np.zeros((len(first), len(second)))
    a_start, a_stop = _corners(first)
    b_start, b_stop = _corners(second)
    if a_start.shape[1] != b_start.shape[1]:
        raise ValueError("cannot compare 2D with 3D boxes")
    low = np.maximum(a_start[:, None], b_start[None])
    high = np.minimum(a_stop[:, None], b_stop[None])
    inter = np.prod(np.clip(high - low, 0.0, None), axis=2)
    union = np.prod(a_stop - a_start, axis=1)[:, None] + np.prod(b_stop - b_start, axis=1)[None] - inter
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(union > 0, inter / union, 0.0)


def match_boxes(pred: Sequence[Box], truth: Sequence[Box], iou_threshold: float = 0.5) -> np.ndarray:
    """For each prediction (in the given order), the index of the truth it matches, or -1.

    Only boxes of the same label match; see the module docstring for the greedy rule.
    """
    matched = np.full(len(pred), -1)
    iou = box_iou(pred, truth)
    taken = np.zeros(len(truth), dtype=bool)
    for i in sorted(range(len(pred)), key=lambda k: -pred[k].score):
        candidates = [j for j in range(len(truth)) if not taken[j] and truth[j].label == pred[i].label]
        if not candidates:
            continue
        best = max(candidates, key=lambda j: iou[i, j])
        if iou[i, best] >= iou_threshold:
            matched[i], taken[best] = best, True
    return matched


def precision_recall(
    pred: Images, truth: Images, iou_threshold: float = 0.5, score_threshold: float = 0.5
) -> tuple[float, float]:
    """Precision and recall of the predictions scoring at least ``score_threshold``.

    0/0 is 1.0 when there are neither predictions nor truths, 0.0 otherwise.
    """
    kept = [[box for box in boxes if box.score >= score_threshold] for boxes in pred]
    matches = [match_boxes(p, t, iou_threshold) for p, t in zip(kept, truth, strict=True)]
    hits = sum(int(np.count_nonzero(m >= 0)) for m in matches)
    predicted, actual = sum(map(len, kept)), sum(map(len, truth))
    both_empty = predicted == 0 and actual == 0
    return _ratio(hits, predicted, both_empty), _ratio(hits, actual, both_empty)


def average_precision(pred: Images, truth: Images, label: int, iou_threshold: float = 0.5) -> float:
    """COCO 101-point AP of one class at one IoU threshold; nan when the class has no true box."""
    scores, hits, actual = _scored_hits(pred, truth, label, iou_threshold)
    if actual == 0:
        return float("nan")
    if scores.size == 0:
        return 0.0
    order = np.argsort(-scores, kind="stable")
    tp = np.cumsum(hits[order])
    recall = tp / actual
    precision = np.maximum.accumulate((tp / np.arange(1, tp.size + 1))[::-1])[::-1]
    points = np.searchsorted(recall, np.linspace(0.0, 1.0, 101), side="left")
    sampled = np.where(points < precision.size, precision[np.minimum(points, precision.size - 1)], 0.0)
    return float(sampled.mean())


def precision_recall_curve(
    pred: Images, truth: Images, label: int | None = None, iou_threshold: float = 0.5
) -> tuple[np.ndarray, np.ndarray]:
    """(recall, precision) after each prediction in descending score, of one class or of all classes."""
    labels = [label] if label is not None else sorted({b.label for boxes in (*pred, *truth) for b in boxes})
    parts = [_scored_hits(pred, truth, value, iou_threshold) for value in labels]
    scores = np.concatenate([p[0] for p in parts]) if parts else np.zeros(0)
    hits = np.concatenate([p[1] for p in parts]) if parts else np.zeros(0, dtype=bool)
    actual = sum(p[2] for p in parts)
    tp = np.cumsum(hits[np.argsort(-scores, kind="stable")])
    return tp / max(actual, 1), tp / np.arange(1, tp.size + 1)


def mean_average_precision(pred: Images, truth: Images, iou_thresholds: Sequence[float] = (0.5,)) -> float:
    """Mean over classes with a true box and over ``iou_thresholds`` of :func:`average_precision`."""
    labels = sorted({box.label for boxes in truth for box in boxes})
    if not labels:
        return float("nan")
    values = [average_precision(pred, truth, label, t) for t in iou_thresholds for label in labels]
    return float(np.mean(values))


def froc_curve(pred: Images, truth: Images, iou_threshold: float = 0.5) -> tuple[np.ndarray, np.ndarray]:
    """(false positives per image, sensitivity) as the score threshold falls; both ascending."""
    scores, hits, actual = [], [], 0
    for label in sorted({box.label for boxes in (*pred, *truth) for box in boxes}):
        s, h, n = _scored_hits(pred, truth, label, iou_threshold)
        scores.append(s)
        hits.append(h)
        actual += n
    scores_all = np.concatenate(scores) if scores else np.zeros(0)
    hits_all = np.concatenate(hits) if hits else np.zeros(0, dtype=bool)
    thresholds = np.unique(scores_all)[::-1]
    tps = np.array([np.count_nonzero(hits_all & (scores_all >= t)) for t in thresholds])
    fps = np.array([np.count_nonzero(~hits_all & (scores_all >= t)) for t in thresholds])
    images = max(len(pred), 1)
    return np.r_[0.0, fps / images], np.r_[0.0, tps / max(actual, 1)]


def froc(
    pred: Images, truth: Images, iou_threshold: float = 0.5, rates: Sequence[float] = FROC_RATES
) -> dict[str, float]:
    """Sensitivity at each false-positive rate per image, and their mean as ``score``."""
    fps, sensitivity = froc_curve(pred, truth, iou_threshold)
    values = np.interp(rates, fps, sensitivity)
    result = {_rate_name(rate): float(v) for rate, v in zip(rates, values, strict=True)}
    result["score"] = float(values.mean())
    return result


def evaluate_detection(
    pred: Images, truth: Images, iou_threshold: float = 0.5, score_threshold: float = 0.5
) -> dict:
    """Every detection metric: ``ap`` per label at ``iou_threshold``, ``map50``, ``map50_95``,
    ``precision`` and ``recall`` at ``score_threshold``, and ``froc``."""
    if len(pred) != len(truth):
        raise ValueError(f"{len(pred)} predicted images but {len(truth)} true images")
    labels = sorted({box.label for boxes in (*pred, *truth) for box in boxes})
    precision, recall = precision_recall(pred, truth, iou_threshold, score_threshold)
    return {
        "ap": {label: average_precision(pred, truth, label, iou_threshold) for label in labels},
        "map50": mean_average_precision(pred, truth, (0.5,)),
        "map50_95": mean_average_precision(pred, truth, COCO_IOUS),
        "precision": precision,
        "recall": recall,
        "froc": froc(pred, truth, iou_threshold),
    }


def _scored_hits(
    pred: Images, truth: Images, label: int, iou_threshold: float
) -> tuple[np.ndarray, np.ndarray, int]:
    """Scores and hit flags of one class's predictions over all images, and its number of truths."""
    scores, hits, actual = [], [], 0
    for p, t in zip(pred, truth, strict=True):
        p = [box for box in p if box.label == label]
        t = [box for box in t if box.label == label]
        actual += len(t)
        scores.extend(box.score for box in p)
        hits.extend(match_boxes(p, t, iou_threshold) >= 0)
    return np.asarray(scores, dtype=np.float64), np.asarray(hits, dtype=bool), actual


def _corners(boxes: Sequence[Box]) -> tuple[np.ndarray, np.ndarray]:
    starts = np.array([b.start for b in boxes], dtype=np.float64)
    return starts, np.array([b.stop for b in boxes], dtype=np.float64)


def _rate_name(rate: float) -> str:
    return f"1/{round(1 / rate)}" if rate < 1 else f"{rate:g}"


def _ratio(numerator: int, denominator: int, both_empty: bool) -> float:
    if denominator == 0:
        return 1.0 if both_empty else 0.0
    return numerator / denominator
