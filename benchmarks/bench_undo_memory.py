"""Undo memory per brush stroke on a 512x512x300 label map, against copying the volume per stroke.

Paints ``--strokes`` 2D strokes (each ten dabs of a ``--radius`` mm brush along a line, as a mouse
drag would) and undoes them all, with :class:`~medview.annotations.editor.AnnotationEditor`,
then prints one JSON line: bytes of undo history per stroke, the reference (one copy of the
volume, what a naive undo keeps per stroke) and their ratio (target: below 0.001), plus the time
per stroke and undo.

    python benchmarks/bench_undo_memory.py [--strokes 50] [--radius 5]
"""

from __future__ import annotations

import argparse
import json
import time

import numpy as np

from medview.annotations.editor import AnnotationEditor
from medview.core.geometry import Geometry
from medview.core.scan import LabelMap

SHAPE = (300, 512, 512)
SPACING = (1.0, 0.7, 0.7)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--strokes", type=int, default=50)
    parser.add_argument("--radius", type=float, default=5.0, help="brush radius in mm")
    args = parser.parse_args()
    label_map = LabelMap(np.zeros(SHAPE, dtype=np.uint8), Geometry.from_spacing(SPACING))
    editor = AnnotationEditor(label_map)
    rng = np.random.default_rng(0)
    started = time.perf_counter()
    for _ in range(args.strokes):
        z = int(rng.integers(0, SHAPE[0]))
        y0, x0 = rng.integers(50, 450, size=2)
        for k in range(10):
            editor.paint((z, y0 + 4 * k, x0 + 3 * k), args.radius, 1, plane_axis=0)
    stroke_s = (time.perf_counter() - started) / args.strokes
    dabs = 10 * args.strokes  # one edit per dab here; a napari drag is merged into one edit per stroke
    per_stroke = editor.history.nbytes / args.strokes
    started = time.perf_counter()
    while editor.undo() is not None:
        pass
    undo_s = (time.perf_counter() - started) / dabs
    reference = label_map.array.nbytes
    print(
        json.dumps(
            {
                "benchmark": "undo_memory",
                "shape": list(SHAPE),
                "dtype": "uint8",
                "brush_radius_mm": args.radius,
                "strokes": args.strokes,
                "history_bytes_per_stroke": round(per_stroke),
                "reference": "one copy of the volume per stroke",
                "reference_bytes": reference,
                "ratio": per_stroke / reference,
                "target_ratio": 0.001,
                "paint_ms_per_stroke": round(stroke_s * 1000, 2),
                "undo_ms_per_dab": round(undo_s * 1000, 3),
                "volume_restored": not label_map.array.any(),
            }
        )
    )


if __name__ == "__main__":
    main()
