"""napari's own buttons and layer-list menu inside medview's window act on its viewer, clicked as a
user clicks them."""

from __future__ import annotations

import numpy as np
import pytest
from qtpy.QtCore import Qt

from medview.core.geometry import Geometry
from medview.core.scan import Scan
from medview.demo import make_ct
from medview.qt.bridge import GEOMETRY_KEY, label_map_from_layer

pytestmark = pytest.mark.gui


def click(qtbot, button) -> None:
    assert button.isVisible() and button.isEnabled()
    qtbot.mouseClick(button, Qt.MouseButton.LeftButton)


@pytest.fixture
def ct_window(main_window):
    main_window.show_case(make_ct(0, shape=(20, 32, 32)))
    return main_window


def test_3d_roll_transpose_grid_and_home_change_the_view(qtbot, ct_window):
    buttons, viewer = ct_window.qt_viewer.viewerButtons, ct_window.viewer
    click(qtbot, buttons.ndisplayButton)
    assert viewer.dims.ndisplay == 3
    click(qtbot, buttons.ndisplayButton)
    assert viewer.dims.ndisplay == 2

    click(qtbot, buttons.rollDimsButton)
    assert tuple(viewer.dims.order) == (2, 0, 1)
    click(qtbot, buttons.transposeDimsButton)
    assert tuple(viewer.dims.order) == (2, 1, 0)

    click(qtbot, buttons.gridViewButton)
    assert viewer.canvas.grid.enabled and buttons.gridViewButton.isChecked()
    click(qtbot, buttons.gridViewButton)
    assert not viewer.canvas.grid.enabled

    camera = viewer.scene.camera
    viewer.reset_view()
    home = (camera.zoom, *camera.center)
    camera.zoom, camera.center = camera.zoom * 4, (0.0, -50.0, 80.0)
    click(qtbot, buttons.resetViewButton)
    assert (camera.zoom, *camera.center) == pytest.approx(home)
    assert not buttons.consoleButton.isVisible()  # medview has no console


def test_new_layer_and_delete_buttons_add_and_remove_layers(qtbot, ct_window):
    buttons, layers = ct_window.qt_viewer.layerButtons, ct_window.viewer.layers
    layers.selection.active = layers["demo-ct-0"]
    click(qtbot, buttons.newLabelsButton)
    labels = layers.selection.active
    assert labels.name == "demo-ct-0 - Labels" and labels.data.shape == (20, 32, 32)
    click(qtbot, buttons.newPointsButton)
    click(qtbot, buttons.newShapesButton)
    assert len(layers) == 5
    shapes = layers.selection.active
    click(qtbot, buttons.deleteButton)
    assert shapes not in layers and len(layers) == 4


def test_a_new_labels_layer_on_a_scan_shown_in_stored_order_keeps_its_real_geometry(qtbot, main_window):
    row, column = np.array([0.569, 0.822, 0.0]), np.array([0.0, 0.0, -1.0])
    row /= np.linalg.norm(row)
    normal = np.cross(row, column)
    direction = np.stack([normal[::-1], column[::-1], row[::-1]], axis=1)
    geometry = Geometry.from_spacing((5.0, 0.8, 0.6), (30.0, 20.0, 10.0), direction)
    main_window.show_scan(Scan(np.ones((1, 16, 20), np.int16), geometry, modality="MR", name="oblique"))
    click(qtbot, main_window.qt_viewer.layerButtons.newLabelsButton)
    labels = main_window.viewer.layers.selection.active
    np.testing.assert_allclose(labels.scale, main_window.scan_layer.scale)
    assert labels.metadata[GEOMETRY_KEY] is geometry
    assert label_map_from_layer(labels).geometry.matches(geometry)
