"""Dice, HD95 and ASSD of two 256x256x256 masks with anisotropic spacing: medview vs MONAI.

Both get the same boolean masks (two overlapping lumpy ellipsoids, spacing 2.0 x 0.8 x 0.7 mm) and
compute the same three numbers; MONAI through ``compute_dice``, ``compute_hausdorff_distance
(percentile=95)`` and ``compute_average_surface_distance(symmetric=True)`` on CPU tensors. Prints
one JSON line: median times of ``--repeats``, the values of both, and ratio = MONAI time / medview
time (target >= 10, values equal to 1e-6).

    python benchmarks/bench_metrics.py [--size 256] [--repeats 3]
"""

from __future__ import annotations

import argparse
import json
import statistics
import time

import numpy as np
import torch
from monai.metrics import compute_average_surface_distance, compute_dice, compute_hausdorff_distance

from medview.metrics.segmentation import binary_metrics

SPACING = (2.0, 0.8, 0.7)
TARGET_RATIO = 10.0
REFERENCE = "monai compute_dice, compute_hausdorff_distance, compute_average_surface_distance (CPU)"


def masks(size: int) -> tuple[np.ndarray, np.ndarray]:
    z, y, x = np.ogrid[:size, :size, :size]
    centre = size / 2
    mm = [(z - centre) * SPACING[0], (y - centre) * SPACING[1], (x - centre) * SPACING[2]]
    scale = size / 256
    truth = (mm[0] / 90) ** 2 + (mm[1] / 70) ** 2 + (mm[2] / 60) ** 2 <= scale**2
    truth |= ((mm[0] - 40 * scale) / 30) ** 2 + ((mm[1] + 40 * scale) / 30) ** 2 + (
        mm[2] / 30
    ) ** 2 <= scale**2
    pred = ((mm[0] - 6) / 88) ** 2 + ((mm[1] - 3) / 72) ** 2 + ((mm[2] + 2) / 58) ** 2 <= scale**2
    return pred, truth


def medview_values(pred: np.ndarray, truth: np.ndarray) -> dict[str, float]:
    values = binary_metrics(pred, truth, SPACING)
    return {key: values[key] for key in ("dice", "hd95", "assd")}


def monai_values(pred: np.ndarray, truth: np.ndarray) -> dict[str, float]:
    p = torch.from_numpy(pred)[None, None].float()
    t = torch.from_numpy(truth)[None, None].float()
    spacing = list(SPACING)
    return {
        "dice": float(compute_dice(p, t, include_background=True).item()),
        "hd95": float(compute_hausdorff_distance(p, t, True, percentile=95, spacing=spacing).item()),
        "assd": float(compute_average_surface_distance(p, t, True, symmetric=True, spacing=spacing).item()),
    }


def timed(function, repeats: int) -> tuple[float, dict[str, float]]:
    times, result = [], {}
    for _ in range(repeats):
        start = time.perf_counter()
        result = function()
        times.append(time.perf_counter() - start)
    return statistics.median(times), result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=256)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    pred, truth = masks(args.size)
    ours_s, ours = timed(lambda: medview_values(pred, truth), args.repeats)
    monai_s, theirs = timed(lambda: monai_values(pred, truth), args.repeats)
    equal = all(abs(ours[k] - theirs[k]) <= 1e-6 * max(1.0, abs(theirs[k])) for k in ours)
    print(
        json.dumps(
            {
                "benchmark": "metrics_dice_hd95_assd",
                "shape": [args.size] * 3,
                "spacing_mm": list(SPACING),
                "medview_s": round(ours_s, 4),
                "monai_s": round(monai_s, 4),
                "reference": REFERENCE,
                "ratio": round(monai_s / ours_s, 2),
                "target_ratio": TARGET_RATIO,
                "values_equal": equal,
                "medview": ours,
                "monai": theirs,
                "threads": torch.get_num_threads(),
            }
        )
    )


if __name__ == "__main__":
    main()
