"""napari's own buttons and layer-list menu, acting on the window's :class:`ViewerModel`.

napari binds the buttons under the layer list (new and delete layer) and beside the canvas (3D,
roll and transpose dims, grid, home) to actions whose viewer is injected from napari's "current
viewer", which only a ``napari.Viewer`` sets; the layer list's right-click menu injects its layer
list the same way. medview's window holds a plain ``ViewerModel``, so it provides that model (its
layer list, its active layer) to napari's injection store for as long as the window is open; the
store is napari's application-wide one, so this assumes one main window per process, as
``medview`` opens. The console button is hidden (medview has no console), and the new-labels button
makes a label map on the open scan's grid through the bridge, so that it keeps the real geometry.
"""

from __future__ import annotations

import weakref
from collections.abc import Callable

import numpy as np
from napari._app_model import get_app_model
from napari.components import LayerList, ViewerModel
from napari.layers import Image, Labels, Layer
from napari.qt import QtViewer
from napari.settings import get_settings

from medview.core.geometry import Geometry
from medview.core.provenance import Provenance
from medview.core.scan import LabelMap
from medview.qt.bridge import GEOMETRY_KEY, add_label_map, scan_from_layer


def serve_napari_actions(viewer: ViewerModel, qt_viewer: QtViewer) -> Callable[[], None]:
    """Make napari's buttons and layer-list menu in ``qt_viewer`` act on ``viewer``.

    Returns the function that withdraws the providers again (call it when the window closes).
    """
    shown = weakref.ref(viewer)  # a window that was never closed must not keep its viewer served

    def layers() -> LayerList | None:
        return None if (model := shown()) is None else model.layers

    def active_layer() -> Layer | None:
        return None if (model := shown()) is None else model.layers.selection.active

    context = get_app_model().injection_store.register(
        providers=[(shown, ViewerModel), (layers, LayerList), (active_layer, Layer)]
    )
    qt_viewer.destroyed.connect(context.cleanup)
    qt_viewer.viewerButtons.consoleButton.hide()
    new_labels = qt_viewer.layerButtons.newLabelsButton
    new_labels.clicked.disconnect()
    new_labels.clicked.connect(lambda: new_labels_layer(viewer))
    return context.cleanup


def new_labels_layer(viewer: ViewerModel) -> Labels | None:
    """An empty labels layer on the grid of the active image or labels layer (napari's new-labels button).

    A layer the bridge made carries its real geometry, and the new layer gets it too, so it lines up
    with a scan shown in stored order and saves with the scan's patient geometry; any other active
    layer is left to napari.
    """
    active = viewer.layers.selection.active
    geometry = active.metadata.get(GEOMETRY_KEY) if active is not None else None
    if isinstance(active, (Image, Labels)) and isinstance(geometry, Geometry):
        scan = scan_from_layer(active)
        shape = scan.spatial_shape if scan is not None else tuple(active.data.shape)
        if len(shape) == geometry.ndim:
            dtype = np.dtype(get_settings().application.new_labels_dtype)
            label_map = LabelMap(np.zeros(shape, dtype), geometry, provenance=Provenance.drawn())
            return add_label_map(viewer, label_map, name=f"{active.name} - Labels")
    viewer._new_labels()  # napari's own: the layer is not one of medview's
    return None
