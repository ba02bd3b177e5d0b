"""Segmentation metrics equal MONAI's on the same masks with anisotropic spacing, to 1e-6 (relative)."""

import numpy as np
import pytest
import torch
from monai.metrics import (
    compute_average_surface_distance,
    compute_dice,
    compute_hausdorff_distance,
    compute_surface_dice,
)

from medview.metrics.segmentation import binary_metrics


def blob(shape, seed, spacing):
    """A lumpy ellipsoid: union of random spheres, so surfaces have many distinct distances."""
    rng = np.random.default_rng(seed)
    grids = np.meshgrid(*(np.arange(n) * s for n, s in zip(shape, spacing, strict=True)), indexing="ij")
    extent = np.array(shape) * np.array(spacing)
    mask = np.zeros(shape, dtype=bool)
    for _ in range(4):
        centre = extent * rng.uniform(0.35, 0.65, len(shape))
        radius = extent.min() * rng.uniform(0.12, 0.25)
        mask |= sum((g - c) ** 2 for g, c in zip(grids, centre, strict=True)) <= radius**2
    return mask


CASES = [
    ((32, 48, 40), (2.5, 0.7, 0.9), 0),
    ((24, 60, 60), (3.0, 0.5, 0.5), 1),
    ((64, 50), (0.3, 1.7), 2),
    ((40, 40, 40), (1.0, 1.0, 1.0), 3),
]


def as_monai(mask):
    return torch.from_numpy(mask)[None, None].float()


@pytest.mark.parametrize(("shape", "spacing", "seed"), CASES)
def test_values_equal_monai(shape, spacing, seed):
    pred, truth = blob(shape, seed, spacing), blob(shape, seed + 100, spacing)
    assert pred.any() and truth.any() and (pred != truth).any()
    tolerance = 1.5
    ours = binary_metrics(pred, truth, spacing, tolerance_mm=tolerance)
    p, t = as_monai(pred), as_monai(truth)
    sp = list(spacing)
    monai = {
        "dice": compute_dice(p, t, include_background=True),
        "hd": compute_hausdorff_distance(p, t, include_background=True, spacing=sp),
        "hd95": compute_hausdorff_distance(p, t, include_background=True, percentile=95, spacing=sp),
        "assd": compute_average_surface_distance(p, t, include_background=True, symmetric=True, spacing=sp),
        "nsd": compute_surface_dice(p, t, [tolerance], include_background=True, spacing=sp),
    }
    for key, value in monai.items():
        # MONAI keeps distances in float32; ours are float64
        assert ours[key] == pytest.approx(float(value.item()), rel=1e-6, abs=1e-6), key


def test_one_empty_mask_gives_infinity_like_monai():
    truth = blob((20, 30, 30), 7, (2.0, 1.0, 1.0))
    empty = np.zeros_like(truth)
    with pytest.warns(UserWarning, match="prediction of class"):
        hd = compute_hausdorff_distance(as_monai(empty), as_monai(truth), include_background=True)
    assert np.isinf(hd.item())
    assert np.isinf(binary_metrics(empty, truth, (1.0, 1.0, 1.0))["hd"])
