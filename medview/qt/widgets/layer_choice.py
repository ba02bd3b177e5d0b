"""Which layers the Metrics panel compares: label maps and boxes on the open scan's voxel grid, a
model's output as the prediction and an annotation as the ground truth, never one layer as both.

Layers of another scan, or of another grid, do not correspond voxel for voxel to the open scan's, so
scoring them against each other gives numbers that mean nothing; the panel offers only layers on the
open scan's grid and refuses a pair whose grids differ, saying what differs.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

import numpy as np
from napari.components import ViewerModel
from napari.layers import Labels, Layer, Shapes

from medview.core.geometry import Geometry
from medview.core.scan import LabelMap, Scan
from medview.qt.bridge import LABEL_MAP_KEY, label_map_from_layer, layer_geometry, scan_from_layer

ERRORS_SUFFIX = " errors"
"""The panel's error overlay is named after the prediction with this suffix; it is never offered."""
ONE_LAYER_HINT = "Run a model or open a second annotation to compare."
_PREDICTION_NAME = re.compile(r"\b(pred|prediction|predicted|model|output)\b", re.IGNORECASE)
_TRUTH_NAME = re.compile(r"\b(truth|true|gt|reference)\b", re.IGNORECASE)
_TRUTH_RANK = {"model": 0, "model+user": 1, "user": 2, "import": 3, "demo": 3}
"""How much a label map's provenance makes it the ground truth: a model's own output least."""
_UNKNOWN_RANK = 1


def open_scan(viewer: ViewerModel) -> Scan | None:
    """The open scan: that of the first medview image layer, as the main window's ``scan_layer``."""
    return next((scan for scan in map(scan_from_layer, viewer.layers) if scan is not None), None)


def comparable_layers(viewer: ViewerModel) -> list[Labels | Shapes]:
    """The labels and boxes layers on the open scan's grid, bottom first; every one of them when no
    scan is open (the panel in plain napari on label maps alone)."""
    scan = open_scan(viewer)
    return [
        layer
        for layer in viewer.layers
        if isinstance(layer, Labels | Shapes)
        and not layer.name.endswith(ERRORS_SUFFIX)
        and (scan is None or _on_grid(layer, scan))
    ]


def default_truth(layers: Sequence[Layer], taken: Layer | None = None) -> Layer | None:
    """The layer most like a ground truth (the lowest of equals), of the kind of ``taken`` (the
    prediction the user chose) and never ``taken`` itself."""
    options = [
        layer for layer in layers if layer is not taken and (taken is None or type(layer) is type(taken))
    ]
    return max(options, key=_truth_rank, default=None)


def default_prediction(layers: Sequence[Layer], truth: Layer | None) -> Layer | None:
    """The layer least like a ground truth (the newest of equals), of the truth's kind and never the
    truth itself; ``None`` when there is no other such layer."""
    if truth is None:
        return None
    options = [layer for layer in reversed(layers) if layer is not truth and type(layer) is type(truth)]
    return min(options, key=_truth_rank, default=None)


def mismatch(first: Layer, second: Layer) -> str | None:
    """Why ``first`` and ``second`` cannot be compared voxel for voxel, naming both and what differs
    (shape in (x, y, z) order, spacing, or position); ``None`` when they lie on the same grid."""
    (shape_a, grid_a), (shape_b, grid_b) = _grid(first), _grid(second)
    if grid_a.ndim != grid_b.ndim:
        difference = f"dimension: {grid_a.ndim}-D against {grid_b.ndim}-D"
    elif shape_a is not None and shape_b is not None and shape_a != shape_b:
        difference = f"shape {_axes(len(shape_a))}: {_xyz(shape_a)} against {_xyz(shape_b)}"
    elif grid_a.matches(grid_b):
        return None
    elif not np.allclose(grid_a.spacing, grid_b.spacing):
        difference = f"spacing {_axes(grid_a.ndim)}: {_xyz(grid_a.spacing)} against {_xyz(grid_b.spacing)}"
    else:
        origins = f"{_xyz(grid_a.origin, ', ')} against {_xyz(grid_b.origin, ', ')}"
        difference = f"position or orientation (origin {_axes(grid_a.ndim)}: {origins})"
    return f"Cannot compare “{first.name}” with “{second.name}”: their voxel grids differ in {difference}."


def _truth_rank(layer: Layer) -> int:
    """How much ``layer`` looks like a ground truth: 0 for a model's output (by provenance, by a name
    such as "prediction", or boxes with scores below 1) up to 3 for a reference annotation."""
    known = layer.metadata.get(LABEL_MAP_KEY)
    source = known.provenance.source if isinstance(known, LabelMap) else None
    if source == "model" or _PREDICTION_NAME.search(layer.name) or _scored_boxes(layer):
        return 0
    if _TRUTH_NAME.search(layer.name):
        return 3
    return _TRUTH_RANK[source] if source is not None else _UNKNOWN_RANK


def _on_grid(layer: Labels | Shapes, scan: Scan) -> bool:
    if isinstance(layer, Labels):
        return label_map_from_layer(layer).fits(scan)
    return layer_geometry(layer).matches(scan.geometry)


def _grid(layer: Layer) -> tuple[tuple[int, ...] | None, Geometry]:
    """The array shape (``None`` for boxes, which have none) and real geometry of a layer."""
    if isinstance(layer, Labels):
        label_map = label_map_from_layer(layer)
        return tuple(label_map.array.shape), label_map.geometry
    return None, layer_geometry(layer)


def _scored_boxes(layer: Layer) -> bool:
    """Boxes with a confidence below 1 come from a detector; drawn and imported boxes score 1."""
    if not isinstance(layer, Shapes) or "score" not in layer.features:
        return False
    return bool((np.asarray(layer.features["score"], dtype=float) < 1.0).any())


def _axes(ndim: int) -> str:
    return "(" + ", ".join(("x", "y", "z")[:ndim]) + ")"


def _xyz(values: Sequence[float], separator: str = " × ") -> str:
    """Array-order values in (x, y, z) order, as a user reads sizes."""
    return separator.join(f"{value:g}" for value in reversed(values))
