"""GUI responsiveness while a model runs: the longest Qt event-loop stall, measured with a timer.

A shown model panel runs the bundled CT U-Net on the full-size 160 x 256 x 256 demo CT through its TaskBar
worker; a 10 ms QTimer records the gaps between its ticks until the run finishes. Prints one JSON
line: the longest stall (target < 100 ms), the 99th percentile gap, and the run time.

Run: ``xvfb-run -a -s "-screen 0 1280x1024x24" nice .venv/bin/python benchmarks/bench_gui_stall.py``.
"""

from __future__ import annotations

import json
import time

import numpy as np
from napari.components import ViewerModel
from napari.qt import get_qapp
from qtpy.QtCore import QEventLoop, QTimer

from medview.demo import make_ct
from medview.models.registry import Registry
from medview.qt.bridge import add_scan
from medview.qt.widgets.model_panel import ModelPanel

TICK_MS = 10
TARGET_MS = 100.0


def main() -> None:
    app = get_qapp()
    viewer = ViewerModel()
    panel = ModelPanel(viewer, registry=Registry.discover(folders=[]))
    panel.show()
    add_scan(viewer, make_ct(0).scan)
    panel.select("ct-unet3d")
    app.processEvents()

    ticks: list[float] = []
    timer = QTimer()
    timer.timeout.connect(lambda: ticks.append(time.perf_counter()))
    loop = QEventLoop()
    outcome: list[str] = []
    panel.task_bar.finished.connect(lambda result: (outcome.append(result), loop.quit()))
    timer.start(TICK_MS)
    started = time.perf_counter()
    panel.run_selected()
    loop.exec()
    elapsed = time.perf_counter() - started
    timer.stop()
    gaps_ms = np.diff(ticks) * 1000
    longest = float(gaps_ms.max())
    print(
        json.dumps(
            {
                "benchmark": "gui_stall_during_inference",
                "model": "ct-unet3d",
                "outcome": outcome[0],
                "run_s": round(elapsed, 2),
                "ticks": len(ticks),
                "longest_stall_ms": round(longest, 1),
                "p99_gap_ms": round(float(np.percentile(gaps_ms, 99)), 1),
                "reference": f"target < {TARGET_MS:g} ms",
                "ratio": round(TARGET_MS / longest, 3),
            }
        )
    )


if __name__ == "__main__":
    main()
