"""A minimal annotating app for the crash test: the real panel and autosave, painting on a timer.

Run as ``python crash_annotator.py WORKSPACE CASE_ID``; prints ``<stroke> <unix time>`` after each
brush stroke (stroke ``k`` paints slice ``k``) until it is killed.
"""

import sys
import time

import numpy as np
from napari.components import ViewerModel
from napari.qt import get_qapp
from qtpy.QtCore import QTimer

from medview.core.scan import LabelMap
from medview.io.open import open_scan
from medview.qt.bridge import add_scan, label_map_layer_data
from medview.qt.widgets.annotation_panel import CASE_KEY, AnnotationPanel
from medview.workspace import Workspace

STROKE_MS = 250


def main(directory: str, case_id: str) -> None:
    app = get_qapp()
    with Workspace.open(directory) as workspace:
        case = workspace.case(case_id)
    scan = open_scan(case.path)
    viewer = ViewerModel()
    panel = AnnotationPanel(viewer)
    panel.show()
    add_scan(viewer, scan)
    data, kwargs, _ = label_map_layer_data(LabelMap(np.zeros(scan.spatial_shape, np.uint8), scan.geometry))
    kwargs["metadata"][CASE_KEY] = {"workspace": directory, "case_id": case_id}
    layer = viewer.add_labels(data, **kwargs)
    layer.brush_size = 5
    strokes = iter(range(scan.spatial_shape[0]))

    def stroke() -> None:
        index = next(strokes, None)
        if index is None:
            return
        layer.paint((index, 32, 32), 1)
        QTimer.singleShot(0, lambda: print(index, time.time(), flush=True))

    timer = QTimer()
    timer.timeout.connect(stroke)
    timer.start(STROKE_MS)
    print("ready", time.time(), flush=True)
    app.exec()


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
