"""Render the README's screenshot: the main window on the demo CT (run under Xvfb or on a desktop).

Usage: xvfb-run -a -s "-screen 0 1600x1000x24" .venv/bin/python scripts/readme_screenshot.py [OUT.png]
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

import numpy as np
from napari.qt import get_qapp

from medview.demo import make_ct
from medview.qt.app import MainWindow


def main(out: Path) -> None:
    app = get_qapp()
    window = MainWindow()
    window.resize(1500, 900)
    window.show()
    case = make_ct(0)
    window.show_case(case)
    lesion_slices = np.flatnonzero((case.truth.array == 5).any(axis=(1, 2)))
    liver_slices = np.flatnonzero((case.truth.array == 3).any(axis=(1, 2)))
    both = np.intersect1d(lesion_slices, liver_slices)
    window.viewer.dims.set_current_step(0, int(both[len(both) // 2]) if both.size else 80)
    deadline = time.monotonic() + 3
    while time.monotonic() < deadline:
        app.processEvents()
        time.sleep(0.02)
    out.parent.mkdir(parents=True, exist_ok=True)
    window.grab().save(str(out))
    window.close()
    print(out)


if __name__ == "__main__":
    main(Path(sys.argv[1] if len(sys.argv) > 1 else "docs/screenshot.png"))
