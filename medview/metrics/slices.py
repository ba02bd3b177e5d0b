"""Per-slice Dice along the first array axis, for the plot that jumps to the worst slices."""

from __future__ import annotations

import numpy as np


def slice_dice(pred: np.ndarray, truth: np.ndarray, label: int, axis: int = 0) -> np.ndarray:
    """Dice of ``label`` in every slice along ``axis`` of two label maps.

    Returns one value per slice; a slice where the label is absent from both maps is ``nan``
    (it has nothing to score, and a plot skips it), unlike the whole-volume Dice which is 1 there.
    """
    pred, truth = np.asarray(pred), np.asarray(truth)
    if pred.shape != truth.shape:
        raise ValueError(f"prediction shape {pred.shape} differs from truth shape {truth.shape}")
    other = tuple(a for a in range(pred.ndim) if a != axis)
    in_pred, in_truth = pred == label, truth == label
    overlap = np.count_nonzero(in_pred & in_truth, axis=other)
    total = np.count_nonzero(in_pred, axis=other) + np.count_nonzero(in_truth, axis=other)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(total > 0, 2.0 * overlap / total, np.nan)


def error_map(pred: np.ndarray, truth: np.ndarray, label: int | None = None) -> np.ndarray:
    """0 where prediction and truth agree, 1 for false positives, 2 for false negatives.

    With ``label`` only that label's errors count; without it every disagreeing voxel counts, a
    voxel with the wrong non-zero label being both (shown as a false positive).
    """
    pred, truth = np.asarray(pred), np.asarray(truth)
    if label is None:
        positive_pred, positive_truth = pred != 0, truth != 0
        wrong = pred != truth
    else:
        positive_pred, positive_truth = pred == label, truth == label
        wrong = positive_pred != positive_truth
    errors = np.zeros(pred.shape, dtype=np.uint8)
    errors[wrong & positive_truth] = 2
    errors[wrong & positive_pred] = 1
    return errors
