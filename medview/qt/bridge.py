"""Scans, label maps and boxes <-> napari layers, with their geometry.

medview's world coordinates are LPS millimetres listed in array order (see
:mod:`medview.core.geometry`), which is exactly what napari's ``scale``/``translate``/``affine``
expect, so an axis-aligned scan becomes ``scale=spacing, translate=origin`` and an oblique one gets
the full ``affine``, except where napari cannot draw it (see :func:`display_geometry`). Each layer
keeps its medview object and its real geometry in ``layer.metadata`` so panels can get the geometry,
label table and provenance back, whatever the display transform.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
from napari.components import ViewerModel
from napari.layers import Image, Labels, Layer, Shapes
from napari.utils.colormaps import DirectLabelColormap

from medview.core.boxes import Box
from medview.core.geometry import Geometry
from medview.core.labels import LabelTable
from medview.core.provenance import Provenance
from medview.core.scan import LabelMap, Scan
from medview.core.windows import is_signed_map, signed_window

SCAN_KEY = "medview_scan"
LABEL_MAP_KEY = "medview_label_map"
BOXES_KEY = "medview_boxes"
GEOMETRY_KEY = "medview_geometry"
"""Layer metadata: the real :class:`Geometry` of the layer's data, whatever transform displays it."""
_OVERLAY_OPACITY = 0.4
SIGNED_COLORMAP = "coolwarm"  # diverging: blue below zero, neutral at zero, red above
_IN_PLANE_ATOL = 1e-4  # direction cosine: an in-slice axis this far out of the drawn plane is oblique


def display_geometry(geometry: Geometry, leading_axes: int = 0) -> tuple[dict[str, Any], bool]:
    """How a layer with ``geometry`` is placed in napari: its keyword arguments, and whether the data
    is shown in stored order instead of in patient space.

    napari draws the last two world axes of a slice and slices along the others. When an in-slice
    array axis has a component along a sliced world axis (an oblique single slice, a sagittal or
    coronal series stored as a volume), napari cannot draw it: its transform for the drawn axes is
    singular or leaves the picture empty. Such data is shown as stored instead, rows down and columns
    right (as a PACS shows projection images), with ``scale`` = spacing and no rotation; the real
    geometry stays with the medview object (and under :data:`GEOMETRY_KEY`) for export, metrics and
    the status line. 2D images and in-plane rotations are always drawn in patient space; so is a slice
    axis that is merely tilted (gantry tilt), which napari draws without the out-of-slice shear.

    Args:
        geometry: the data's affine from array index to world millimetres.
        leading_axes: non-spatial axes (time) in front of the spatial ones; they get unit scale.

    Returns:
        ``(kwargs, shown_in_stored_order)``: ``scale``/``translate`` or ``affine`` for the layer.
    """
    if _napari_cannot_draw(geometry):
        return {
            "scale": (1.0,) * leading_axes + geometry.spacing,
            "translate": (0.0,) * (leading_axes + geometry.ndim),
        }, True
    return _world_kwargs(geometry, leading_axes), False


def geometry_kwargs(geometry: Geometry, leading_axes: int = 0) -> dict[str, Any]:
    """napari layer keyword arguments that place data with ``geometry`` (see :func:`display_geometry`).

    ``leading_axes`` non-spatial axes (time) come first and get unit scale.
    """
    return display_geometry(geometry, leading_axes)[0]


def patient_position(layer: Layer, world_position: Sequence[float]) -> np.ndarray:
    """Patient coordinates (mm, LPS in array order) of a point napari shows at ``world_position``.

    Maps the displayed position to the layer's array index and back through the real geometry, so it
    is right whether the layer is shown in patient space or in stored order.
    """
    geometry = layer.metadata.get(GEOMETRY_KEY)
    if not isinstance(geometry, Geometry):
        geometry = layer_geometry(layer)
    index = np.asarray(layer.world_to_data(world_position), dtype=float)[-geometry.ndim :]
    return geometry.index_to_world(index)


def scan_layer_data(scan: Scan) -> tuple[Any, dict[str, Any], str]:
    """napari's ``(data, kwargs, "image")`` tuple for ``scan``: its geometry and default window."""
    data = list(scan.levels) if scan.is_multiscale else scan.array
    kwargs: dict[str, Any] = {
        "name": scan.name or "scan",
        "rgb": scan.rgb,
        "multiscale": scan.is_multiscale,
        "metadata": {SCAN_KEY: scan, GEOMETRY_KEY: scan.geometry},
        **geometry_kwargs(scan.geometry, int(scan.has_time_axis)),
    }
    if not scan.rgb:
        window = scan.window
        if is_signed_map(scan):
            # A diverging map means something only with its neutral colour on zero.
            kwargs["colormap"] = SIGNED_COLORMAP
            if window is None or window.center != 0.0:
                window = signed_window(scan)
        else:
            kwargs["colormap"] = "gray"
        if window is not None:
            kwargs["contrast_limits"] = window.limits
    return data, kwargs, "image"


def label_map_layer_data(label_map: LabelMap, name: str | None = None) -> tuple[Any, dict[str, Any], str]:
    """napari's ``(data, kwargs, "labels")`` tuple; the layer's data *is* the label map's array."""
    kwargs = {
        "name": name or _label_map_name(label_map),
        "opacity": _OVERLAY_OPACITY,
        "colormap": label_colormap(label_map.labels),
        "metadata": {LABEL_MAP_KEY: label_map, GEOMETRY_KEY: label_map.geometry},
        **geometry_kwargs(label_map.geometry),
    }
    return label_map.array, kwargs, "labels"


def add_scan(viewer: ViewerModel, scan: Scan) -> Image:
    """Add ``scan`` as an image layer with its geometry and default window."""
    data, kwargs, _ = scan_layer_data(scan)
    return viewer.add_image(data, **kwargs)


def add_label_map(viewer: ViewerModel, label_map: LabelMap, name: str | None = None) -> Labels:
    """Add ``label_map`` as a labels layer coloured by its label table; edits write into its array."""
    data, kwargs, _ = label_map_layer_data(label_map, name)
    return viewer.add_labels(data, **kwargs)


def label_colormap(labels: LabelTable) -> DirectLabelColormap:
    """A napari colormap with the table's colours; values not in the table get a neutral magenta."""
    colours: dict[int | None, Any] = {None: (1.0, 0.0, 1.0, 1.0), 0: (0.0, 0.0, 0.0, 0.0)}
    for value, colour in labels.colours().items():
        colours[value] = (*(c / 255 for c in colour), 1.0)
    return DirectLabelColormap(color_dict=colours)


def scan_from_layer(layer: Layer) -> Scan | None:
    """The scan an image layer shows, or ``None`` if the layer did not come from medview.

    napari's layer actions (split stack, projections, conversions) copy a layer's metadata onto the
    layers they make; a layer that is no image or holds data of another shape is not the scan.
    """
    scan = layer.metadata.get(SCAN_KEY)
    if not isinstance(scan, Scan) or not isinstance(layer, Image):
        return None
    return scan if tuple(layer.data.shape) == tuple(scan.array.shape) else None


def label_map_from_layer(layer: Labels) -> LabelMap:
    """The layer's current voxels as a :class:`LabelMap`.

    Layers made by :func:`add_label_map` keep their table and provenance; a labels layer drawn in
    plain napari gets the layer's geometry and a user provenance, and so does one that napari made
    from a medview layer of another dimension (a converted projection).
    """
    known = layer.metadata.get(LABEL_MAP_KEY)
    if isinstance(known, LabelMap) and known.array is layer.data:
        return known
    if isinstance(known, LabelMap) and known.geometry.ndim != layer.ndim:
        known = None
    geometry = known.geometry if isinstance(known, LabelMap) else layer_geometry(layer)
    labels = known.labels if isinstance(known, LabelMap) else LabelTable()
    provenance = known.provenance.edited_by_user() if isinstance(known, LabelMap) else Provenance.drawn()
    return LabelMap(np.asarray(layer.data), geometry, labels, provenance)


def layer_geometry(layer: Layer) -> Geometry:
    """The real geometry of a bridge-made layer, else the one its napari transform describes."""
    known = layer.metadata.get(GEOMETRY_KEY)
    if isinstance(known, Geometry) and known.ndim == layer.ndim:
        return known
    affine = np.asarray(layer.affine.affine_matrix) @ _scale_translate_matrix(layer)
    return Geometry(affine)


def boxes_layer_data(
    boxes: Sequence[Box], labels: LabelTable, geometry: Geometry, name: str = "boxes"
) -> tuple[Any, dict[str, Any], str]:
    """napari's ``(data, kwargs, "shapes")`` tuple: rectangles with label and score as text.

    A 3D box is drawn on every slice it spans. Box edges lie half a voxel outside the centres of the
    voxels they cover, so rectangles are drawn at ``start - 0.5`` and ``stop - 0.5`` in napari's
    voxel-centre coordinates.
    """
    rectangles, box_ids, label_names, scores = [], [], [], []
    for box_id, box in enumerate(boxes):
        for rectangle in _box_rectangles(box):
            rectangles.append(rectangle)
            box_ids.append(box_id)
            label_names.append(labels.name_of(box.label))
            scores.append(box.score)
    colours = [_box_colour(labels, box.label) for box in boxes]
    kwargs = {
        "shape_type": "rectangle",
        "ndim": geometry.ndim,
        "name": name,
        "edge_color": [colours[i] for i in box_ids] if box_ids else "yellow",
        "face_color": "transparent",
        "edge_width": 2,
        "features": {
            "box_id": np.asarray(box_ids, dtype=int),
            "label": np.asarray(label_names, dtype=object),
            "score": np.asarray(scores, dtype=float),
        },
        "feature_defaults": {"box_id": -1, "label": _default_label_name(labels), "score": 1.0},
        "text": {"string": "{label} {score:.2f}", "color": "yellow", "size": 9, "anchor": "upper_left"},
        "metadata": {BOXES_KEY: list(boxes), GEOMETRY_KEY: geometry},
        **geometry_kwargs(geometry),
    }
    return rectangles or None, kwargs, "shapes"


def add_boxes(
    viewer: ViewerModel, boxes: Sequence[Box], labels: LabelTable, geometry: Geometry, name: str = "boxes"
) -> Shapes:
    """Add boxes as a shapes layer (see :func:`boxes_layer_data`)."""
    data, kwargs, _ = boxes_layer_data(boxes, labels, geometry, name)
    return viewer.add_shapes(data, **kwargs)


def boxes_from_layer(layer: Shapes, labels: LabelTable | None = None) -> list[Box]:
    """Boxes from a shapes layer: one per rectangle (2D), or per ``box_id`` across slices (3D)."""
    known = layer.metadata.get(BOXES_KEY)
    if known is not None and len(layer.data) == sum(_slice_count(b) for b in known):
        return list(known)
    names = {label.name: label.value for label in (labels or LabelTable())}
    features = layer.features
    grouped: dict[int, list[np.ndarray]] = {}
    meta: dict[int, tuple[int, float]] = {}
    for index, vertices in enumerate(layer.data):
        box_id = int(features["box_id"][index]) if "box_id" in features and index < len(features) else index
        box_id = box_id if box_id >= 0 else index
        grouped.setdefault(box_id, []).append(np.asarray(vertices))
        label_name = features["label"][index] if "label" in features and index < len(features) else None
        score = float(features["score"][index]) if "score" in features and index < len(features) else 1.0
        meta[box_id] = (names.get(label_name, 1), score if np.isfinite(score) else 1.0)
    boxes = []
    for box_id, parts in grouped.items():
        points = np.concatenate(parts)
        start = points.min(axis=0) + 0.5
        stop = points.max(axis=0) + 0.5
        if points.shape[1] == 3:  # rectangles sit on slice indices k..m: the box covers k to m + 1
            start[0] = points[:, 0].min()
            stop[0] = points[:, 0].max() + 1.0
        label, score = meta[box_id]
        boxes.append(Box(label, score, tuple(float(v) for v in start), tuple(float(v) for v in stop)))
    return boxes


def _napari_cannot_draw(geometry: Geometry) -> bool:
    if geometry.ndim < 3:
        return False
    sliced, drawn = slice(0, geometry.ndim - 2), slice(geometry.ndim - 2, None)
    return bool(np.abs(geometry.direction[sliced, drawn]).max() > _IN_PLANE_ATOL)


def _world_kwargs(geometry: Geometry, leading_axes: int) -> dict[str, Any]:
    if geometry.is_axis_aligned and leading_axes == 0:
        return {"scale": geometry.spacing, "translate": geometry.origin}
    if geometry.is_axis_aligned:
        return {
            "scale": (1.0,) * leading_axes + geometry.spacing,
            "translate": (0.0,) * leading_axes + geometry.origin,
        }
    affine = np.eye(geometry.ndim + leading_axes + 1)
    affine[leading_axes:, leading_axes:] = geometry.affine
    return {"affine": affine}


def _label_map_name(label_map: LabelMap) -> str:
    provenance = label_map.provenance
    if provenance.source == "model":
        return f"{provenance.author} {provenance.model_version}"
    return "ground truth" if provenance.source in ("demo", "import") else "annotation"


def _scale_translate_matrix(layer: Layer) -> np.ndarray:
    n = layer.ndim
    matrix = np.eye(n + 1)
    matrix[:n, :n] = np.diag(layer.scale)
    matrix[:n, n] = layer.translate
    return matrix


def _box_rectangles(box: Box) -> list[np.ndarray]:
    start = np.asarray(box.start) - 0.5
    stop = np.asarray(box.stop) - 0.5
    if box.ndim == 2:
        return [np.array([start, stop])]
    first, last = int(np.ceil(box.start[0] - 1e-6)), int(np.ceil(box.stop[0] - 1e-6)) - 1
    (y0, x0), (y1, x1) = start[1:], stop[1:]
    return [np.array([[z, y0, x0], [z, y0, x1], [z, y1, x1], [z, y1, x0]]) for z in range(first, last + 1)]


def _slice_count(box: Box) -> int:
    return len(_box_rectangles(box))


def _default_label_name(labels: LabelTable) -> str:
    """The class a rectangle drawn by hand gets: the table's first, else ``label 1``."""
    return next(iter(labels)).name if len(labels) else labels.name_of(1)


def _box_colour(labels: LabelTable, value: int) -> tuple[float, float, float, float]:
    if value in labels:
        return (*(c / 255 for c in labels[value].colour), 1.0)
    return (1.0, 1.0, 0.0, 1.0)
