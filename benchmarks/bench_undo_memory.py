"""Undo memory per brush stroke on a 512x512x300 label map, against copying the volume per stroke.

Paints ``--strokes`` 2D strokes (each ten dabs of a ``--radius`` mm brush along a line, as a mouse
drag would) and undoes them all, with :class:`~medview.annotations.editor.AnnotationEditor`,
then prints one JSON line (``benchmarks/measurement.py``): bytes of undo history per stroke against
the reference, one copy of the volume (what a naive undo keeps per stroke), with ratio = reference
bytes / medview bytes (above 1 is medview smaller; target >= 1000), plus the time per stroke and
undo. Both sides are single-threaded: the editor paints on the calling thread.

    python benchmarks/bench_undo_memory.py [--strokes 50] [--radius 5]
"""

from __future__ import annotations

import argparse
import time

import numpy as np
from measurement import available_cores, emit

from medview.annotations.editor import AnnotationEditor
from medview.core.geometry import Geometry
from medview.core.scan import LabelMap

SHAPE = (300, 512, 512)
SPACING = (1.0, 0.7, 0.7)
TARGET_RATIO = 1000.0


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
    ratio = reference / per_stroke
    emit(
        "undo_memory",
        "bytes of undo history per brush stroke",
        unit="bytes",
        medview=round(per_stroke),
        reference="one copy of the volume per stroke (a naive undo)",
        reference_value=reference,
        threads={"medview": 1, "reference": 1},
        cores=len(available_cores()),
        ratio=ratio,
        ratio_definition="reference_bytes / medview_bytes (memory saving)",
        target=f"ratio >= {TARGET_RATIO:g}",
        meets_target=ratio >= TARGET_RATIO,
        shape=list(SHAPE),
        dtype="uint8",
        brush_radius_mm=args.radius,
        strokes=args.strokes,
        paint_ms_per_stroke=round(stroke_s * 1000, 2),
        undo_ms_per_dab=round(undo_s * 1000, 3),
        volume_restored=not label_map.array.any(),
    )


if __name__ == "__main__":
    main()
