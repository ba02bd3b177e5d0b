"""Surface distances between two binary masks, in millimetres, with MONAI's definitions.

Surface: the voxels of a mask that have at least one 6-connected (4-connected in 2D) neighbour
outside it, ``mask ^ binary_erosion(mask)`` with voxels beyond the array counted as outside; this is
MONAI's ``get_mask_edges`` without sub-voxel areas. Distances are Euclidean between voxel centres,
scaled by the spacing, from every surface voxel of one mask to the nearest surface voxel of the other.

For speed both masks are first cropped to their union's bounding box plus a one-voxel margin (which
changes no surface voxel), and nearest neighbours come from a k-d tree over surface voxels only.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from scipy.spatial import cKDTree


@dataclass(frozen=True)
class SurfaceDistances:
    """Directed surface distances (mm) between a prediction and a truth mask.

    Attributes:
        pred_to_truth: for every surface voxel of the prediction, the distance to the truth's surface.
        truth_to_pred: for every surface voxel of the truth, the distance to the prediction's surface.
    """

    pred_to_truth: np.ndarray
    truth_to_pred: np.ndarray

    @property
    def pred_empty(self) -> bool:
        return self.pred_to_truth.size == 0

    @property
    def truth_empty(self) -> bool:
        return self.truth_to_pred.size == 0


def surface_distances(pred: np.ndarray, truth: np.ndarray, spacing: Sequence[float]) -> SurfaceDistances:
    """Both directed surface distance sets of two boolean masks of equal shape (array order, mm).

    When exactly one mask is empty, the other's distances are all ``inf`` (MONAI's convention); when
    both are empty both sets are empty.
    """
    pred, truth = _cropped(np.asarray(pred, dtype=bool), np.asarray(truth, dtype=bool))
    scale = np.asarray(spacing, dtype=np.float64)
    if scale.shape != (pred.ndim,):
        raise ValueError(f"spacing {tuple(spacing)} does not match a {pred.ndim}-D mask")
    pred_points = np.argwhere(mask_surface(pred)) * scale
    truth_points = np.argwhere(mask_surface(truth)) * scale
    return SurfaceDistances(_nearest(pred_points, truth_points), _nearest(truth_points, pred_points))


def mask_surface(mask: np.ndarray) -> np.ndarray:
    """The surface voxels of a boolean mask: those with a face neighbour outside it (or the array).

    Equal to ``mask & ~scipy.ndimage.binary_erosion(mask)`` (MONAI's edges), computed with shifted
    views, which is several times faster than a generic erosion.
    """
    padded = np.pad(mask, 1)
    core = tuple(slice(1, -1) for _ in range(mask.ndim))
    interior = mask.copy()
    for axis in range(mask.ndim):
        for step in (-1, 1):
            shifted = list(core)
            shifted[axis] = slice(1 + step, padded.shape[axis] - 1 + step)
            interior &= padded[tuple(shifted)]
    return mask & ~interior


def _cropped(pred: np.ndarray, truth: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    if pred.shape != truth.shape:
        raise ValueError(f"prediction shape {pred.shape} differs from truth shape {truth.shape}")
    union = pred | truth
    if not union.any():
        return pred[:0], truth[:0]
    window = []
    for axis in range(union.ndim):
        present = np.flatnonzero(union.any(axis=tuple(a for a in range(union.ndim) if a != axis)))
        window.append(slice(max(int(present[0]) - 1, 0), int(present[-1]) + 2))
    return pred[tuple(window)], truth[tuple(window)]


def _nearest(points: np.ndarray, targets: np.ndarray) -> np.ndarray:
    if points.shape[0] == 0:
        return np.zeros(0)
    if targets.shape[0] == 0:
        return np.full(points.shape[0], np.inf)
    # an unbalanced tree without shrunk nodes builds twice as fast and queries grid points as fast
    tree = cKDTree(targets, leafsize=32, balanced_tree=False, compact_nodes=False)
    distances, _ = tree.query(points, k=1, workers=-1)
    return distances
