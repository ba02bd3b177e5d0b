"""How well a model did on one case, and over cases: the one definition behind every model score.

Training validation, ``medview train``, ``medview compare``, the Train and Metrics panels and the
bundled models' cards all score a prediction on the scan's own grid with these functions and
summarise with :func:`summarise`, so one version on one set of cases shows one number everywhere.

The figure over cases is the **mean of the per-case scores** (the quantity a paired comparison of two
versions is about), and a class's figure is its mean over the cases whose annotation holds it:

- segmentation: ``dice_<class>`` for every class of the model the case's annotation holds (a class
  the annotation lacks is undefined for that case, not 0 or 1), and ``dice`` their mean;
- detection: ``f1`` = 2 TP / (2 TP + FP + FN) of the boxes scoring at least ``min_score``, a hit
  overlapping an unmatched true box of its class at IoU >= ``min_iou`` (COCO greedy matching,
  :func:`medview.metrics.detection.match_boxes`); 1 when there are neither; ``precision`` and
  ``recall`` undefined where their denominator is 0;
- classification: ``accuracy`` 1 when the most probable class is the annotated one, else 0.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from medview.core.boxes import Box
from medview.core.labels import LabelTable
from medview.metrics.classification import roc_auc
from medview.metrics.detection import match_boxes
from medview.metrics.segmentation import compute_dice

CaseScores = dict[str, float]
DETECTION_IOU = 0.3
DETECTION_SCORE = 0.5
PRIVATE = "_"
"""Keys starting with this carry a case's raw data to :func:`summarise` (a class and its probability for
the ROC AUC) and are not scores."""


def label_scores(predicted: np.ndarray, truth: np.ndarray, labels: LabelTable) -> CaseScores:
    """Dice of each class of ``labels`` present in ``truth`` (``dice_<name>``) and their mean (``dice``,
    ``nan`` when the truth holds none); both arrays on the same grid, in the model's label values."""
    predicted, truth = np.asarray(predicted), np.asarray(truth)
    if predicted.shape != truth.shape:
        raise ValueError(f"prediction {predicted.shape} and truth {truth.shape} are on different grids")
    present = set(np.unique(truth).tolist())
    scores = {
        f"dice_{label.name}": compute_dice(predicted == label.value, truth == label.value)
        for label in labels
        if label.value in present
    }
    return {"dice": float(np.mean(list(scores.values()))) if scores else float("nan")} | scores


def box_scores(
    predicted: Sequence[Box],
    truth: Sequence[Box],
    min_iou: float = DETECTION_IOU,
    min_score: float = DETECTION_SCORE,
) -> CaseScores:
    """F1, precision and recall of one image's predicted boxes against its true boxes."""
    kept = [box for box in predicted if box.score >= min_score]
    hits = int(np.count_nonzero(match_boxes(kept, list(truth), min_iou) >= 0))
    false_positives, missed = len(kept) - hits, len(truth) - hits
    wrong = false_positives + missed
    return {
        "f1": 1.0 if hits + wrong == 0 else 2 * hits / (2 * hits + wrong),
        "precision": hits / len(kept) if kept else float("nan"),
        "recall": hits / len(truth) if truth else float("nan"),
    }


def class_scores(probabilities: Sequence[float], truth: int) -> CaseScores:
    """Whether the most probable class is ``truth`` (a class index from 0); with two classes the case's
    class and second-class probability are kept for :func:`summarise`'s ROC AUC."""
    probabilities = np.asarray(probabilities, dtype=np.float64)
    scores = {"accuracy": float(int(np.argmax(probabilities)) == int(truth))}
    if probabilities.size == 2:
        scores |= {f"{PRIVATE}truth": float(truth), f"{PRIVATE}score": float(probabilities[1])}
    return scores


def summarise(rows: Sequence[CaseScores], primary: str) -> dict[str, float]:
    """Each score's mean over the cases where it is defined (``nan`` where none is), ``primary`` first;
    with two classes, the ROC AUC over the cases when both classes occur."""
    keys = [primary] + sorted({key for row in rows for key in row} - {primary})
    summary: dict[str, float] = {}
    for key in keys:
        if key.startswith(PRIVATE):
            continue
        values = np.array([row[key] for row in rows if key in row], dtype=np.float64)
        values = values[np.isfinite(values)]
        summary[key] = float(values.mean()) if values.size else float("nan")
    labelled = [row for row in rows if f"{PRIVATE}score" in row]
    if labelled:
        auc = roc_auc(
            [int(row[f"{PRIVATE}truth"]) for row in labelled], [row[f"{PRIVATE}score"] for row in labelled]
        )
        if np.isfinite(auc):
            summary["roc_auc"] = float(auc)
    return summary


def public(row: CaseScores) -> CaseScores:
    """A case's scores without the raw data kept for :func:`summarise`."""
    return {key: value for key, value in row.items() if not key.startswith(PRIVATE)}
