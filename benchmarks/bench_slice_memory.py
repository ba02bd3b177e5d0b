"""Step 5,000 times through the demo CT with its overlay in a shown window; print resident-memory growth.

Guards long annotation sessions: PySide6 6.12.0 on Python 3.11 aborted napari after ~2,400 steps.
There is no reference (no other viewer is stepped); the issue's target is < 5 % growth of resident
memory. Prints one JSON line (``benchmarks/measurement.py``): ratio = the end memory the target allows
(start x 1.05) / the end memory measured, above 1 is within the target. Slices are stepped and drawn
on the GUI thread.
Usage: xvfb-run -a -s "-screen 0 1600x1000x24" .venv/bin/python benchmarks/bench_slice_memory.py [--steps N]
"""

from __future__ import annotations

import argparse
import sys
import time

import psutil
from measurement import available_cores, emit
from napari.qt import get_qapp

from medview.demo import make_ct
from medview.qt.app import MainWindow

WARM_UP_STEPS = 200
TARGET_GROWTH_PERCENT = 5.0


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--steps", type=int, default=5000)
    steps = parser.parse_args().steps
    app = get_qapp()
    window = MainWindow()
    window.show()
    window.show_case(make_ct(0))
    process = psutil.Process()
    none_before = sys.getrefcount(None)
    for _ in range(WARM_UP_STEPS):
        window.step_slice(1)
        app.processEvents()
    rss_start = process.memory_info().rss
    started = time.perf_counter()
    for _ in range(steps):
        window.step_slice(1)
        app.processEvents()
    seconds = time.perf_counter() - started
    rss_end = process.memory_info().rss
    growth = 100.0 * (rss_end - rss_start) / rss_start
    window.close()
    allowed_end = rss_start * (1 + TARGET_GROWTH_PERCENT / 100)
    emit(
        "slice_stepping_memory",
        f"resident memory growth over {steps} slice steps",
        unit="%",
        medview=round(growth, 2),
        reference=None,
        why_no_reference=f"no other viewer is stepped; the target is growth < {TARGET_GROWTH_PERCENT:g}%",
        threads={"medview": 1, "reference": None},
        cores=len(available_cores()),
        ratio=allowed_end / rss_end,
        ratio_definition=f"rss_start x {1 + TARGET_GROWTH_PERCENT / 100:g} (target) / rss_end",
        target=f"growth_percent < {TARGET_GROWTH_PERCENT:g}",
        meets_target=growth < TARGET_GROWTH_PERCENT,
        steps=steps,
        rss_start_mb=round(rss_start / 2**20, 1),
        rss_end_mb=round(rss_end / 2**20, 1),
        steps_per_second=round(steps / seconds, 1),
        none_refcount_change=sys.getrefcount(None) - none_before,
    )


if __name__ == "__main__":
    main()
