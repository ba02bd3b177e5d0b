"""Showing an opened scan without ever losing the one on screen.

A scan becomes napari layer objects first (:func:`scan_layers`, cheap enough for the worker thread
that read the file), each is checked by building its canvas visual off-screen, and only then does
:func:`replace_layers` swap them in. A failure at any step, in napari's layer construction, its
visuals or ``reset_view``, leaves the previous layers shown and the viewer working.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from napari._vispy import create_vispy_layer
from napari.components import ViewerModel
from napari.layers import Labels, Layer
from napari.qt import QtViewer

from medview.core.errors import MedviewError
from medview.core.scan import Scan
from medview.demo import DemoCase
from medview.qt.bridge import boxes_layer_data, label_map_layer_data, scan_layer_data

_log = logging.getLogger(__name__)
_REASON_CHARACTERS = 200


@dataclass
class PreparedScan:
    """A scan and its napari layers (image first, then its attached label maps), not yet shown."""

    scan: Scan
    layers: list[Layer] = field(default_factory=list)


def scan_layers(scan: Scan) -> PreparedScan:
    """Build the napari layers for ``scan``: the image, then one labels layer per ``scan.attached``.

    Only napari model objects are made, no Qt or canvas objects, so a worker thread may call this.
    """
    layers = [Layer.create(*scan_layer_data(scan))]
    for attached in scan.attached:
        layers.append(Layer.create(*label_map_layer_data(attached.label_map, attached.name)))
    return PreparedScan(scan, layers)


@dataclass
class PreparedLabels:
    """A segmentation to lay over the scan already shown (a DICOM SEG of its series), not yet shown."""

    layer: Layer
    warnings: list[str] = field(default_factory=list)


def seg_over(path: Path, shown: Scan | None) -> PreparedLabels | None:
    """The layer of ``path`` when it is a DICOM SEG of the shown scan's series, else ``None``.

    Like ITK-SNAP's "open segmentation": the SEG joins the open image instead of replacing it.
    """
    from medview.io.dicom_seg import read_seg, read_seg_over, seg_layer_name, segments_open_scan

    if not segments_open_scan(path, shown):
        return None
    warnings: list[str] = []
    label_map = read_seg_over(path, shown, warnings)
    name = seg_layer_name(read_seg(path), path)
    return PreparedLabels(Layer.create(*label_map_layer_data(label_map, name)), warnings)


def case_layers(case: DemoCase) -> PreparedScan:
    """The layers of a demo case: its scan, then its ground truth and boxes."""
    prepared = scan_layers(case.scan)
    if case.truth is not None:
        prepared.layers.append(Layer.create(*label_map_layer_data(case.truth, "ground truth")))
    if case.boxes:
        data = boxes_layer_data(case.boxes, case.box_labels, case.scan.geometry, "ground truth boxes")
        prepared.layers.append(Layer.create(*data))
    return prepared


def replace_layers(viewer: ViewerModel, qt_viewer: QtViewer, layers: list[Layer]) -> None:
    """Show ``layers`` instead of the viewer's layers, or raise and keep showing the old ones.

    Every new layer's canvas visual is built and thrown away first, so the usual failures (a transform
    napari cannot invert) happen before anything changes. The swap itself runs with every listener of
    the layer list hearing every change (see :func:`_every_listener_hears`): napari stops at the first
    listener that raises, and the ones after it (the canvas, layer controls, the layer list view)
    would never learn of the layer, which breaks every later removal.
    """
    for layer in layers:
        check_drawable(qt_viewer, layer)
    previous = list(viewer.layers)
    with _every_listener_hears(viewer) as failures:
        try:
            _remove_all(viewer, qt_viewer)
            for layer in layers:
                viewer.layers.append(layer)
            if failures:
                raise failures[0]
            viewer.reset_view()
        except Exception:
            _restore(viewer, qt_viewer, previous)
            raise


def check_drawable(qt_viewer: QtViewer, layer: Layer) -> None:
    """Raise what napari's canvas would raise when it builds ``layer``'s visual (singular transforms…)."""
    visual = create_vispy_layer(layer, font_info=qt_viewer.canvas.font_info())
    visual.close()


def opening_error_text(path: str | Path, error: BaseException) -> str:
    """What the error dialog says: a user error's own message (which names the file), else an
    internal error naming the file with a one-line reason; the traceback belongs in the log."""
    name = Path(path).name
    if isinstance(error, MedviewError):
        message = str(error)
        return message if name in message else f"{path}: {message}"
    lines = str(error).strip().splitlines()
    reason = f"{type(error).__name__}: {lines[0]}" if lines else type(error).__name__
    if len(reason) > _REASON_CHARACTERS:
        reason = reason[: _REASON_CHARACTERS - 1] + "…"
    return f"internal error while opening {path}: {reason}"


def lossy_notice(scan: Scan | None) -> str:
    """The canvas notice for a scan whose pixels were lossily compressed, e.g. ``LOSSY: JPEG 10:1``."""
    lossy = scan.metadata.get("lossy_compression") if scan is not None else None
    return f"LOSSY: {lossy.strip()}" if isinstance(lossy, str) and lossy.strip() else ""


def _remove_all(viewer: ViewerModel, qt_viewer: QtViewer) -> None:
    """Remove every layer, labels layers first and drawn without them once: removing a labels layer
    and changing the number of dimensions in one frame crashes the OpenGL driver (Mesa) in the next
    draw, e.g. when a radiograph replaces an annotated CT."""
    labels = [layer for layer in viewer.layers if isinstance(layer, Labels)]
    for layer in reversed(labels):
        _remove(viewer, qt_viewer, layer)
    if labels and qt_viewer.canvas.native.isVisible():
        qt_viewer.canvas.native.repaint()
    for layer in reversed(list(viewer.layers)):
        _remove(viewer, qt_viewer, layer)


def _remove(viewer: ViewerModel, qt_viewer: QtViewer, layer: Layer) -> None:
    """Remove ``layer``, also when the canvas never built its visual (it would raise KeyError)."""
    canvas = qt_viewer.canvas
    if layer in canvas.layer_to_visual:
        viewer.layers.remove(layer)
        return
    with viewer.layers.events.removed.blocker(canvas._remove_layer):
        viewer.layers.remove(layer)


@contextmanager
def _every_listener_hears(viewer: ViewerModel) -> Iterator[list[Exception]]:
    """While open, a listener of the layer list's ``inserted`` or ``removed`` event that raises is
    logged and collected, and the listeners after it still run (napari would stop at it)."""
    failures: list[Exception] = []
    emitters = (viewer.layers.events.inserted, viewer.layers.events.removed)
    for emitter in emitters:
        invoke = emitter._invoke_callback

        def invoke_or_collect(callback: Any, event: Any, invoke: Any = invoke) -> None:
            try:
                invoke(callback, event)
            except Exception as error:
                _log.error("%s failed while the layers changed", callback, exc_info=error)
                failures.append(error)

        emitter._invoke_callback = invoke_or_collect  # shadows the method for this emitter only
    try:
        yield failures
    finally:
        for emitter in emitters:
            del emitter._invoke_callback


def _restore(viewer: ViewerModel, qt_viewer: QtViewer, previous: list[Layer]) -> None:
    """Put ``previous`` back after a failed swap; problems here are only logged (the swap's own error
    is the one the user hears of)."""
    try:
        _remove_all(viewer, qt_viewer)
        for layer in previous:
            viewer.layers.append(layer)
        viewer.reset_view()
    except Exception:
        _log.exception("could not restore the layers shown before a failed open")
