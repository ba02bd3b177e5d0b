"""Per-slice Dice along the first array axis, for the plot that jumps to the worst slices, and the
slices a (partial) annotation labels."""

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


def annotated_slices(truth: np.ndarray, axis: int = 0) -> np.ndarray:
    """Indices (ascending) of the slices along ``axis`` that hold any label > 0.

    A partial annotation labels some slices of a volume and leaves the others unlooked-at, not
    background; scoring only these slices keeps the unlabelled ones from counting as misses.
    """
    return np.flatnonzero(_slices_with_foreground(np.asarray(truth), axis))


def partly_annotated(pred: np.ndarray, truth: np.ndarray, axis: int = 0) -> bool:
    """True when the truth labels fewer than half of the slices on which the prediction has foreground
    (a prediction with no foreground never makes the truth look partial)."""
    predicted = _slices_with_foreground(np.asarray(pred), axis)
    if not predicted.any():
        return False
    annotated = _slices_with_foreground(np.asarray(truth), axis)
    return bool(2 * np.count_nonzero(predicted & annotated) < np.count_nonzero(predicted))


def worst_slice(dice: np.ndarray) -> int | None:
    """The slice of lowest Dice (the first of equals), skipping ``nan`` slices (label in neither map);
    ``None`` when every slice is ``nan``."""
    dice = np.asarray(dice, dtype=float)
    if np.isnan(dice).all():
        return None
    return int(np.nanargmin(dice))


def _slices_with_foreground(label_map: np.ndarray, axis: int) -> np.ndarray:
    moved = np.moveaxis(label_map, axis, 0)
    return moved.reshape(moved.shape[0], -1).any(axis=1)
