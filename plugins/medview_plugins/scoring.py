"""Validation scores the training scripts write into model cards and the tests recompute."""

from __future__ import annotations

import numpy as np
from monai.data.box_utils import box_iou

from medview.core.boxes import Box
from medview.core.labels import LabelTable


def dice_by_class(predicted: np.ndarray, truth: np.ndarray, labels: LabelTable) -> dict[str, float]:
    """Dice of each class of ``labels`` (``dice_<name>``); 1.0 when a class is absent from both."""
    scores = {}
    for label in labels:
        p, t = predicted == label.value, truth == label.value
        total = int(p.sum() + t.sum())
        scores[f"dice_{label.name}"] = 1.0 if total == 0 else 2.0 * int((p & t).sum()) / total
    return scores


def detection_scores(
    predicted: list[list[Box]], truth: list[list[Box]], min_iou: float = 0.3, min_score: float = 0.5
) -> dict[str, float]:
    """Precision, recall and F1 over all images: a prediction (score >= ``min_score``) is a hit when
    it overlaps an unmatched true box with IoU >= ``min_iou``; greedy matching by score."""
    hits = found = expected = 0
    for boxes, true_boxes in zip(predicted, truth, strict=True):
        kept = [b for b in boxes if b.score >= min_score]
        found, expected = found + len(kept), expected + len(true_boxes)
        if not kept or not true_boxes:
            continue
        iou = box_iou(_corners(kept), _corners(true_boxes))
        unmatched = set(range(len(true_boxes)))
        for row in np.argsort([-b.score for b in kept]):
            candidates = [(iou[row, c], c) for c in unmatched if iou[row, c] >= min_iou]
            if candidates:
                unmatched.discard(max(candidates)[1])
                hits += 1
    precision = hits / found if found else 0.0
    recall = hits / expected if expected else 1.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return {"precision": precision, "recall": recall, "f1": f1}


def _corners(boxes: list[Box]) -> np.ndarray:
    return np.array([[*b.start, *b.stop] for b in boxes], dtype=np.float64)
