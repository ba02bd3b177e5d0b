"""Dice, HD95 and ASSD of two 256x256x256 masks with anisotropic spacing: medview vs MONAI, on equal cores.

Both get the same boolean masks (two overlapping lumpy ellipsoids, spacing 2.0 x 0.8 x 0.7 mm) and
compute the same three numbers, in one process pinned to a number of CPU cores, once per count in
``--cores`` (default: one core, then all), with torch (and OpenMP) set to that many threads; the
two sides' runs alternate, so both see the same load on a shared machine. medview's
``binary_metrics`` (which computes the other overlap and distance metrics too) asks for every core
it may use in its k-d tree query, which the pinning limits to the count.

MONAI is called the way a user at its best would: ``compute_dice``, then one
``monai.metrics.utils.get_edge_surface_distance(symmetric=True)``, whose two directed distance sets
give HD95 (the larger directed 95th percentile, by ``torch.quantile``, as
``compute_hausdorff_distance(percentile=95)`` does) and ASSD (their pooled mean, as
``compute_average_surface_distance(symmetric=True)``), so edges and distances are computed once rather
than once per metric. MONAI's own k-d tree query takes no ``workers`` and runs on one thread whatever
the cores; its torch steps use the threads given. ``reference_separate_calls_s`` times the three
``compute_*`` calls as well. Inputs are prepared before timing: numpy masks for medview, float
``(1, 1, z, y, x)`` tensors for MONAI.

Prints one JSON line per core count (``benchmarks/measurement.py``): median seconds of ``--repeats``
after a warm-up, and ratio = MONAI seconds / medview seconds (speedup, above 1 is medview faster;
target >= 10, values equal to 1e-6).

    nice .venv/bin/python benchmarks/bench_metrics.py [--size 256] [--repeats 3] [--cores 1,all]
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
import warnings
from collections.abc import Callable

import numpy as np
from measurement import core_counts, emit, run_pinned

SPACING = (2.0, 0.8, 0.7)
TARGET_RATIO = 10.0
REFERENCE = (
    "MONAI compute_dice + one get_edge_surface_distance(symmetric=True) giving HD95 (torch.quantile) "
    "and ASSD (CPU)"
)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=256)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--cores", default="1,all", help="core counts to pin both sides to, e.g. 1,all")
    parser.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        print(json.dumps(worker(args.size, args.repeats, int(args.cores))))
        return
    sizes = ["--size", str(args.size), "--repeats", str(args.repeats)]
    for cores in core_counts(args.cores):
        timings = run_pinned([__file__, "--worker", *sizes, "--cores", str(cores)], cores)
        ours, theirs = timings["medview"], timings["monai"]
        values, reference_values = ours["values"], theirs["values"]
        equal = all(
            abs(values[k] - reference_values[k]) <= 1e-6 * max(1.0, abs(reference_values[k])) for k in values
        )
        ratio = theirs["seconds"] / ours["seconds"]
        emit(
            "metrics_dice_hd95_assd",
            "seconds to compute Dice, HD95 and ASSD of one pair of masks",
            unit="s",
            medview=ours["seconds"],
            reference=REFERENCE,
            reference_value=theirs["seconds"],
            threads={
                "medview": ours["threads"],
                "reference": theirs["threads"],
                "medview_kdtree_query": "workers=-1: every pinned core",
                "reference_kdtree_query": 1,
            },
            cores=cores,
            ratio=ratio,
            ratio_definition="reference_s / medview_s (speedup)",
            target=f"ratio >= {TARGET_RATIO:g} and values equal to 1e-6",
            meets_target=ratio >= TARGET_RATIO and equal,
            medview_cpu_s=ours["cpu_s"],
            reference_cpu_s=theirs["cpu_s"],
            reference_separate_calls_s=theirs["separate_calls_s"],
            shape=[args.size] * 3,
            spacing_mm=list(SPACING),
            repeats=args.repeats,
            values_equal=equal,
            values=values,
            reference_values=reference_values,
        )


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


def worker(size: int, repeats: int, cores: int) -> dict:
    """Both sides' timings, alternating, in this (pinned) process."""
    import torch
    from monai.metrics import compute_average_surface_distance, compute_dice, compute_hausdorff_distance
    from monai.metrics.utils import get_edge_surface_distance

    from medview.metrics.segmentation import binary_metrics

    # MONAI's own get_edge_surface_distance passes an argument it has deprecated
    warnings.filterwarnings("ignore", category=FutureWarning, module=r"monai\.")
    torch.set_num_threads(cores)
    pred, truth = masks(size)
    pred_t, truth_t = (torch.from_numpy(mask)[None, None].float() for mask in (pred, truth))
    spacing = list(SPACING)

    def medview() -> dict[str, float]:
        values = binary_metrics(pred, truth, SPACING)
        return {key: values[key] for key in ("dice", "hd95", "assd")}

    def monai_at_best() -> dict[str, float]:
        dice = compute_dice(pred_t, truth_t, include_background=True)
        _, (forward, backward), _ = get_edge_surface_distance(
            pred_t[0, 0], truth_t[0, 0], spacing=spacing, symmetric=True
        )
        hd95 = torch.maximum(torch.quantile(forward, 0.95), torch.quantile(backward, 0.95))
        assd = torch.cat([forward, backward]).mean()
        return {"dice": float(dice.item()), "hd95": float(hd95.item()), "assd": float(assd.item())}

    def monai_separate_calls() -> dict[str, float]:
        return {
            "dice": float(compute_dice(pred_t, truth_t, include_background=True).item()),
            "hd95": float(
                compute_hausdorff_distance(pred_t, truth_t, True, percentile=95, spacing=spacing).item()
            ),
            "assd": float(
                compute_average_surface_distance(
                    pred_t, truth_t, True, symmetric=True, spacing=spacing
                ).item()
            ),
        }

    timings = _timed({"medview": medview, "monai": monai_at_best, "separate": monai_separate_calls}, repeats)
    timings["monai"]["separate_calls_s"] = timings.pop("separate")["seconds"]
    threads = {"medview": cores, "monai": torch.get_num_threads()}
    return {name: {**timing, "threads": threads[name]} for name, timing in timings.items()}


def _timed(functions: dict[str, Callable[[], dict[str, float]]], repeats: int) -> dict[str, dict]:
    """Median wall and CPU seconds of ``repeats`` alternating calls of each function after one warm-up
    each, and each one's values."""
    values = {name: function() for name, function in functions.items()}
    wall: dict[str, list[float]] = {name: [] for name in functions}
    cpu: dict[str, list[float]] = {name: [] for name in functions}
    for _ in range(repeats):
        for name, function in functions.items():
            start_wall, start_cpu = time.perf_counter(), time.process_time()
            function()
            wall[name].append(time.perf_counter() - start_wall)
            cpu[name].append(time.process_time() - start_cpu)
    return {
        name: {
            "seconds": round(statistics.median(wall[name]), 4),
            "cpu_s": round(statistics.median(cpu[name]), 4),
            "values": values[name],
        }
        for name in functions
    }


if __name__ == "__main__":
    main()
