"""Segmentation metrics of a predicted against a true mask, spacing-aware, per label.

Masks are arrays in array order (``(z, y, x)`` or ``(y, x)``); ``spacing`` is the voxel size along
the same axes in mm. Definitions (TP, FP, FN, TN count voxels):

- ``dice = 2TP / (2TP + FP + FN)`` (= F1), ``iou = TP / (TP + FP + FN)`` (Jaccard),
  ``sensitivity = TP / (TP + FN)`` (recall), ``specificity = TN / (TN + FP)``,
  ``precision = TP / (TP + FP)``, ``accuracy = (TP + TN) / all voxels``.
  A ratio whose denominator is zero is 1.0 when both masks are identical (e.g. both empty) and 0.0
  otherwise, so an empty truth with an empty prediction scores Dice 1, never NaN.
- Surfaces and distances as in :mod:`medview.metrics.surface` (MONAI's definitions).
  ``hd`` is the symmetric Hausdorff distance (the larger directed maximum); ``hd95`` the larger of
  the two directed 95th percentiles, each with linear interpolation (numpy's and torch's default,
  as MONAI's ``compute_hausdorff_distance(percentile=95)``); ``assd`` the mean of all distances of
  both directions pooled (MONAI's symmetric ``compute_average_surface_distance``); ``nsd`` the
  surface Dice at ``tolerance_mm``: the fraction of surface voxels of both masks within the
  tolerance of the other surface (MONAI's ``compute_surface_dice`` without sub-voxel areas; a
  distance within 1e-6 mm of the tolerance counts as within it, absorbing floating-point rounding).
  Both masks empty: hd = hd95 = assd = 0 and nsd = 1. Exactly one empty: hd = hd95 = assd = inf
  and nsd = 0.
- ``volume_ml_*`` counts voxels times the voxel volume (1 ml = 1000 mm³); ``volume_ml_diff`` is
  prediction minus truth.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np

from medview.metrics.surface import SurfaceDistances, surface_distances

DEFAULT_TOLERANCE_MM = 2.0
OVERLAP_KEYS = ("dice", "iou", "sensitivity", "specificity", "precision", "accuracy", "f1")
DISTANCE_KEYS = ("hd", "hd95", "assd", "nsd")
VOLUME_KEYS = ("volume_ml_truth", "volume_ml_pred", "volume_ml_diff")
METRIC_KEYS = OVERLAP_KEYS + DISTANCE_KEYS + VOLUME_KEYS
LOWER_IS_BETTER = frozenset({"hd", "hd95", "assd"})
_ROUNDING_MM = 1e-6


@dataclass(frozen=True)
class Counts:
    """Voxel counts of one label: true/false positives/negatives."""

    tp: int
    fp: int
    fn: int
    tn: int

    @classmethod
    def of(cls, pred: np.ndarray, truth: np.ndarray, outside: int = 0) -> Counts:
        """Counts of two boolean masks, plus ``outside`` background voxels counted as true negatives."""
        pred, truth = _binary(pred, truth)
        tp = int(np.count_nonzero(pred & truth))
        fp = int(np.count_nonzero(pred)) - tp
        fn = int(np.count_nonzero(truth)) - tp
        return cls(tp, fp, fn, pred.size + outside - tp - fp - fn)

    @property
    def total(self) -> int:
        return self.tp + self.fp + self.fn + self.tn

    @property
    def identical(self) -> bool:
        return self.fp == 0 and self.fn == 0


def compute_dice(pred: np.ndarray, truth: np.ndarray) -> float:
    """Dice coefficient ``2TP / (2TP + FP + FN)``; 1.0 when both masks are empty."""
    c = Counts.of(pred, truth)
    return _ratio(2 * c.tp, 2 * c.tp + c.fp + c.fn, c.identical)


def compute_iou(pred: np.ndarray, truth: np.ndarray) -> float:
    """Jaccard index ``TP / (TP + FP + FN)``; 1.0 when both masks are empty."""
    c = Counts.of(pred, truth)
    return _ratio(c.tp, c.tp + c.fp + c.fn, c.identical)


def compute_hausdorff(pred: np.ndarray, truth: np.ndarray, spacing: Sequence[float]) -> float:
    """Symmetric Hausdorff distance in mm (maximum over both directions)."""
    return _hausdorff(surface_distances(*_binary(pred, truth), spacing), None)


def compute_hd95(pred: np.ndarray, truth: np.ndarray, spacing: Sequence[float]) -> float:
    """95th-percentile Hausdorff distance in mm: the larger of the two directed 95th percentiles."""
    return _hausdorff(surface_distances(*_binary(pred, truth), spacing), 95.0)


def compute_assd(pred: np.ndarray, truth: np.ndarray, spacing: Sequence[float]) -> float:
    """Average symmetric surface distance in mm: the mean of both directions' distances pooled."""
    return _assd(surface_distances(*_binary(pred, truth), spacing))


def compute_surface_dice(
    pred: np.ndarray, truth: np.ndarray, spacing: Sequence[float], tolerance_mm: float = DEFAULT_TOLERANCE_MM
) -> float:
    """Normalised surface distance: the fraction of both surfaces within ``tolerance_mm`` of the other."""
    return _nsd(surface_distances(*_binary(pred, truth), spacing), tolerance_mm)


def compute_volume_ml(mask: np.ndarray, spacing: Sequence[float]) -> float:
    """Volume of the non-zero voxels in millilitres (for 2D masks: area in cm² / 10, i.e. mm² / 1000)."""
    return float(np.count_nonzero(mask)) * float(np.prod(spacing)) / 1000.0


def binary_metrics(
    pred: np.ndarray,
    truth: np.ndarray,
    spacing: Sequence[float],
    tolerance_mm: float = DEFAULT_TOLERANCE_MM,
    distances: bool = True,
    outside: int = 0,
) -> dict[str, float]:
    """Every metric of :data:`METRIC_KEYS` for one pair of boolean masks, computing surfaces once.

    ``distances=False`` skips the surface metrics (hd, hd95, assd, nsd), which are then absent.
    ``outside`` counts background voxels of a larger image the masks were cropped from (true negatives).
    """
    pred, truth = _binary(pred, truth)
    window = foreground_window(pred, truth)
    outside += pred.size - pred[window].size
    pred, truth = pred[window], truth[window]
    c = Counts.of(pred, truth, outside)
    same = c.identical
    voxel_ml = float(np.prod(spacing)) / 1000.0
    values = {
        "dice": _ratio(2 * c.tp, 2 * c.tp + c.fp + c.fn, same),
        "iou": _ratio(c.tp, c.tp + c.fp + c.fn, same),
        "sensitivity": _ratio(c.tp, c.tp + c.fn, same),
        "specificity": _ratio(c.tn, c.tn + c.fp, same),
        "precision": _ratio(c.tp, c.tp + c.fp, same),
        "accuracy": _ratio(c.tp + c.tn, c.total, same),
    }
    values["f1"] = values["dice"]
    if distances:
        surface = surface_distances(pred, truth, spacing)
        values.update(
            hd=_hausdorff(surface, None),
            hd95=_hausdorff(surface, 95.0),
            assd=_assd(surface),
            nsd=_nsd(surface, tolerance_mm),
        )
    values["volume_ml_truth"] = (c.tp + c.fn) * voxel_ml
    values["volume_ml_pred"] = (c.tp + c.fp) * voxel_ml
    values["volume_ml_diff"] = values["volume_ml_pred"] - values["volume_ml_truth"]
    return values


def evaluate_segmentation(
    pred: np.ndarray,
    truth: np.ndarray,
    spacing: Sequence[float],
    labels: Iterable[int] | None = None,
    tolerance_mm: float = DEFAULT_TOLERANCE_MM,
    distances: bool = True,
) -> dict[int, dict[str, float]]:
    """Per-label metrics of two label maps (integer arrays, 0 = background).

    Args:
        pred, truth: label maps of equal shape, array order.
        spacing: voxel size in mm, array order.
        labels: the label values to score; by default every non-zero value present in either map.
        tolerance_mm: the tolerance of ``nsd``.
        distances: compute the surface metrics (slower) as well as overlap and volume.

    Returns:
        ``{label: {metric: value}}`` with the keys of :data:`METRIC_KEYS`.
    """
    pred, truth = np.asarray(pred), np.asarray(truth)
    if pred.shape != truth.shape:
        raise ValueError(f"prediction shape {pred.shape} differs from truth shape {truth.shape}")
    # every label lies inside the bounding box of all non-zero voxels: score there, and count the
    # voxels outside it as true negatives, which is much faster for small structures in big scans
    window = foreground_window(pred, truth)
    pred_crop, truth_crop = pred[window], truth[window]
    outside = pred.size - pred_crop.size
    if labels is None:
        labels = present_labels(pred_crop, truth_crop)
    return {
        int(label): binary_metrics(
            pred_crop == label, truth_crop == label, spacing, tolerance_mm, distances, outside
        )
        for label in labels
    }


def foreground_window(*label_maps: np.ndarray) -> tuple[slice, ...]:
    """The smallest box of slices holding every non-zero voxel of the label maps (empty if none)."""
    union = np.zeros(label_maps[0].shape, dtype=bool)
    for label_map in label_maps:
        # boolean masks are or-ed directly: comparing them with 0 costs a pass and a temporary each
        union |= label_map if label_map.dtype == bool else label_map != 0
    # one pass over the volume: project out the first axis, then read the others off that plane
    plane = union.any(axis=0)
    first = union.reshape(union.shape[0], -1).any(axis=1)
    presence = [first] + [
        plane.any(axis=tuple(a for a in range(plane.ndim) if a != axis)) for axis in range(plane.ndim)
    ]
    window = []
    for present in map(np.flatnonzero, presence):
        window.append(slice(int(present[0]), int(present[-1]) + 1) if present.size else slice(0, 0))
    return tuple(window)


def present_labels(*label_maps: np.ndarray) -> list[int]:
    """Non-zero values that occur in any of the label maps, ascending."""
    values: set[int] = set()
    for label_map in label_maps:
        label_map = np.asarray(label_map)
        if label_map.dtype.kind == "u" and label_map.dtype.itemsize <= 2:  # a histogram beats sorting
            values.update(int(v) for v in np.flatnonzero(np.bincount(label_map.ravel())))
        else:
            values.update(int(v) for v in np.unique(label_map))
    return sorted(values - {0})


def _binary(pred: np.ndarray, truth: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    pred, truth = np.asarray(pred, dtype=bool), np.asarray(truth, dtype=bool)
    if pred.shape != truth.shape:
        raise ValueError(f"prediction shape {pred.shape} differs from truth shape {truth.shape}")
    return pred, truth


def _ratio(numerator: int, denominator: int, identical: bool) -> float:
    if denominator == 0:
        return 1.0 if identical else 0.0
    return numerator / denominator


def _hausdorff(surface: SurfaceDistances, percentile: float | None) -> float:
    if surface.pred_empty and surface.truth_empty:
        return 0.0
    if surface.pred_empty or surface.truth_empty:
        return float("inf")
    if percentile is None:
        return float(max(surface.pred_to_truth.max(), surface.truth_to_pred.max()))
    forward, backward = surface.pred_to_truth, surface.truth_to_pred
    return float(max(np.percentile(forward, percentile), np.percentile(backward, percentile)))


def _assd(surface: SurfaceDistances) -> float:
    if surface.pred_empty and surface.truth_empty:
        return 0.0
    if surface.pred_empty or surface.truth_empty:
        return float("inf")
    return float(np.concatenate([surface.pred_to_truth, surface.truth_to_pred]).mean())


def _nsd(surface: SurfaceDistances, tolerance_mm: float) -> float:
    total = surface.pred_to_truth.size + surface.truth_to_pred.size
    if total == 0:
        return 1.0
    # distances are sums of spacing multiples: 0.3 * 5 is 1.5000000000000002 in float64, so a distance
    # equal to the tolerance up to rounding counts as within it (as MONAI's float32 distances do)
    limit = tolerance_mm + _ROUNDING_MM
    within = np.count_nonzero(surface.pred_to_truth <= limit) + np.count_nonzero(
        surface.truth_to_pred <= limit
    )
    return within / total
