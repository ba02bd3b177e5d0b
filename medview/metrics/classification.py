"""Classification metrics of predicted class probabilities against true classes, with bootstrap CIs.

``truth`` holds one class index per case (0 .. K-1); ``probabilities`` is ``(cases, K)`` (or, for two
classes, the positive class's probability per case). The predicted class is the arg-max, or for two
classes ``probability >= threshold``. Per-class scores are one-versus-rest; for two classes the
headline scores are those of class 1 (the "positive" class, e.g. "abnormal").

ROC AUC is the Mann-Whitney statistic (ties count one half), equal to scikit-learn's
``roc_auc_score``; multi-class AUC is the unweighted mean of one-versus-rest AUCs (scikit-learn's
``multi_class="ovr", average="macro"``). ROC AUC and average precision are computed here with numpy,
not scikit-learn, because the bootstrap calls them a thousand times per interval.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from scipy.stats import rankdata

from medview.metrics.bootstrap import DEFAULT_RESAMPLES, bootstrap_many

SCORE_KEYS = ("accuracy", "sensitivity", "specificity", "precision", "f1", "auc")


@dataclass(frozen=True)
class RocCurve:
    """False- and true-positive rates at each distinct score threshold (descending), from (0, 0)."""

    fpr: np.ndarray
    tpr: np.ndarray
    thresholds: np.ndarray


def predicted_classes(probabilities: np.ndarray, threshold: float = 0.5) -> np.ndarray:
    """Class index per case: arg-max of ``(cases, K)`` probabilities, or ``p >= threshold`` for 1-D."""
    probabilities = np.asarray(probabilities, dtype=np.float64)
    if probabilities.ndim == 1:
        return (probabilities >= threshold).astype(np.int64)
    return np.argmax(probabilities, axis=1)


def confusion_matrix(truth: Sequence[int], predicted: Sequence[int], classes: int) -> np.ndarray:
    """``(classes, classes)`` counts; row = true class, column = predicted class (scikit-learn's layout)."""
    truth, predicted = np.asarray(truth, dtype=np.int64), np.asarray(predicted, dtype=np.int64)
    return np.bincount(truth * classes + predicted, minlength=classes * classes).reshape(classes, classes)


def class_scores(matrix: np.ndarray, positive: int) -> dict[str, float]:
    """Accuracy and one-versus-rest sensitivity, specificity, precision, F1 of class ``positive``.

    A ratio whose denominator is zero is ``nan`` (e.g. sensitivity of a class no case has).
    """
    total = matrix.sum()
    tp = matrix[positive, positive]
    fn = matrix[positive].sum() - tp
    fp = matrix[:, positive].sum() - tp
    tn = total - tp - fn - fp
    return {
        "accuracy": _divide(np.trace(matrix), total),
        "sensitivity": _divide(tp, tp + fn),
        "specificity": _divide(tn, tn + fp),
        "precision": _divide(tp, tp + fp),
        "f1": _divide(2 * tp, 2 * tp + fp + fn),
    }


def roc_auc(truth: Sequence[int], scores: Sequence[float]) -> float:
    """Area under the ROC curve of binary ``truth`` (0/1) against ``scores``; nan with one class only."""
    truth = np.asarray(truth).astype(bool)
    positives = int(truth.sum())
    negatives = truth.size - positives
    if positives == 0 or negatives == 0:
        return float("nan")
    ranks = rankdata(scores)
    return float((ranks[truth].sum() - positives * (positives + 1) / 2.0) / (positives * negatives))


def roc_curve(truth: Sequence[int], scores: Sequence[float]) -> RocCurve:
    """The ROC curve of binary ``truth`` against ``scores`` (one point per distinct score)."""
    truth = np.asarray(truth).astype(bool)
    scores = np.asarray(scores, dtype=np.float64)
    order = np.argsort(-scores, kind="stable")
    scores, truth = scores[order], truth[order]
    last_of_each = np.r_[np.flatnonzero(np.diff(scores)), scores.size - 1]
    tps = np.cumsum(truth)[last_of_each]
    fps = (last_of_each + 1) - tps
    positives, negatives = max(int(truth.sum()), 1), max(int((~truth).sum()), 1)
    return RocCurve(
        np.r_[0.0, fps / negatives], np.r_[0.0, tps / positives], np.r_[np.inf, scores[last_of_each]]
    )


def precision_recall_curve(truth: Sequence[int], scores: Sequence[float]) -> tuple[np.ndarray, np.ndarray]:
    """(recall, precision) at each distinct score threshold, descending (scikit-learn's points, reversed)."""
    truth = np.asarray(truth).astype(bool)
    curve = roc_curve(truth, scores)
    tps = curve.tpr[1:] * max(int(truth.sum()), 1)
    fps = curve.fpr[1:] * max(int((~truth).sum()), 1)
    return curve.tpr[1:], tps / np.maximum(tps + fps, 1e-300)


def average_precision(truth: Sequence[int], scores: Sequence[float]) -> float:
    """Average precision ``sum_n (R_n - R_{n-1}) P_n`` over distinct score thresholds (scikit-learn's)."""
    if not np.asarray(truth).astype(bool).any():
        return float("nan")
    recall, precision = precision_recall_curve(truth, scores)
    return float(np.sum(np.diff(np.r_[0.0, recall]) * precision))


def evaluate_classification(
    truth: Sequence[int],
    probabilities: np.ndarray,
    threshold: float = 0.5,
    resamples: int = DEFAULT_RESAMPLES,
    seed: int = 0,
) -> dict:
    """Confusion matrix and every score of :data:`SCORE_KEYS` with a bootstrap 95% interval.

    Returns ``{"classes": K, "confusion": [[...]], "<score>": Estimate}``, the headline scores being
    those of class 1 for two classes and the macro means of one-versus-rest scores otherwise.
    """
    truth = np.asarray(truth, dtype=np.int64)
    probabilities = np.asarray(probabilities, dtype=np.float64)
    if probabilities.shape[0] != truth.shape[0]:
        raise ValueError(f"{truth.shape[0]} true classes but {probabilities.shape[0]} predictions")
    probabilities = _as_matrix(probabilities)
    classes = max(probabilities.shape[1], int(truth.max(initial=0)) + 1)
    options = {"resamples": resamples, "seed": seed}

    def scores(t: np.ndarray, p: np.ndarray) -> dict[str, float]:
        matrix = confusion_matrix(t, _predict(p, threshold), classes)
        per_class = [class_scores(matrix, k) | {"auc": roc_auc(t == k, p[:, k])} for k in range(classes)]
        if classes == 2:
            return per_class[1]
        return {key: float(np.nanmean([s[key] for s in per_class])) for key in SCORE_KEYS}

    result: dict = {
        "classes": classes,
        "confusion": confusion_matrix(truth, _predict(probabilities, threshold), classes).tolist(),
    }
    result.update(bootstrap_many(scores, truth, probabilities, **options))
    return result


def _as_matrix(probabilities: np.ndarray) -> np.ndarray:
    if probabilities.ndim == 1:
        return np.stack([1.0 - probabilities, probabilities], axis=1)
    return probabilities


def _predict(probabilities: np.ndarray, threshold: float) -> np.ndarray:
    if probabilities.shape[1] == 2:
        return predicted_classes(probabilities[:, 1], threshold)
    return predicted_classes(probabilities)


def _divide(numerator: float, denominator: float) -> float:
    return float(numerator / denominator) if denominator else float("nan")
