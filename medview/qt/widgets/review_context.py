"""What the Metrics panel reads from the layers besides their voxels: the unit the scan's spacing is in,
and whether the truth is a partial annotation, to be scored on its annotated slices only; and which
annotation is the truth by default, and the names of the label values."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable

import numpy as np
from napari.components import ViewerModel
from napari.layers import Labels, Layer

from medview.core.errors import MedviewError
from medview.core.geometry import Geometry
from medview.metrics.slices import partly_annotated
from medview.qt.bridge import GEOMETRY_KEY, label_map_from_layer
from medview.qt.widgets.annotation_panel import CASE_KEY
from medview.qt.widgets.layer_choice import default_prediction, default_truth, open_scan
from medview.workspace import Workspace

_NAPARI_UNITS = {"millimeter": "mm", "micrometer": "um"}


def scan_units(viewer: ViewerModel, layer: Layer) -> str:
    """``mm``, ``um`` or ``pixel`` (unknown pixel size, see :attr:`medview.core.scan.Scan.units`) for
    the metrics of ``layer``: the open scan's units; with no scan open, ``mm`` for a layer medview
    placed (its geometry is in mm by definition), else the unit napari was given for every axis of the
    layer, else ``pixel``: a plain napari layer's scale has no unit, and none is invented."""
    scan = open_scan(viewer)
    if scan is not None:
        return scan.units
    if isinstance(layer.metadata.get(GEOMETRY_KEY), Geometry):
        return "mm"
    units = {str(unit) for unit in getattr(layer, "units", ())}
    return _NAPARI_UNITS.get(units.pop(), "pixel") if len(units) == 1 else "pixel"


def annotated_only_by_default(pred: Layer | None, truth: Layer | None) -> bool:
    """Whether to score only the truth's annotated slices unless the user says otherwise: when the
    truth is the annotation of a workspace case not marked done, or when it labels fewer than half of
    the slices on which the prediction has foreground. Only for volumes of labels."""
    if not isinstance(truth, Labels) or not isinstance(pred, Labels) or truth.ndim < 3:
        return False
    if case_in_progress(truth):
        return True
    pred_data, truth_data = np.asarray(pred.data), np.asarray(truth.data)
    return pred_data.shape == truth_data.shape and partly_annotated(pred_data, truth_data)


def case_in_progress(layer: Layer) -> bool:
    """True when ``layer`` is a workspace case's annotation (the case browser's metadata) and that case
    is not marked done: unlabelled (nothing saved yet) or in progress."""
    case = layer.metadata.get(CASE_KEY)
    if not isinstance(case, dict) or "workspace" not in case or "case_id" not in case:
        return False
    try:
        with Workspace.open(case["workspace"]) as workspace:
            return workspace.case(case["case_id"]).status != "done"
    except (MedviewError, KeyError, OSError, sqlite3.Error):
        return False  # the workspace moved or the case was removed: nothing says it is in progress


def newest_truth(layers: list[Layer], taken: Layer | None) -> Layer | None:
    """The newest of the layers most like a ground truth (see :func:`default_truth`), unless the
    prediction left would be as truth-like (two model outputs, two annotations): then the oldest, so
    that the newest is the prediction."""
    newest = default_truth(layers[::-1], taken)
    pred = taken or default_prediction(layers, newest)
    if newest is not None and pred is not None and default_truth([pred, newest]) is pred:
        return default_truth(layers, taken)  # equally truth-like: max() keeps the first, the prediction
    return newest


def label_names(layers: Iterable[Layer | None]) -> dict[int, str]:
    """``{value: name}`` from the label tables of the labels layers among ``layers`` (later ones win)."""
    names: dict[int, str] = {}
    for layer in layers:
        if isinstance(layer, Labels):
            names |= {label.value: label.name for label in label_map_from_layer(layer).labels}
    return names
