"""Right-clicking a layer in the main window's layer list opens napari's layer menu, and its actions
act on the window's layers without an error."""

from __future__ import annotations

import sys

import numpy as np
import pytest
from qtpy.QtCore import QEvent, QPointF, Qt
from qtpy.QtGui import QAction, QMouseEvent
from qtpy.QtWidgets import QApplication, QMenu

from medview.demo import make_ct
from medview.qt.bridge import label_map_from_layer, scan_from_layer

pytestmark = pytest.mark.gui


@pytest.fixture
def ct_window(main_window):
    main_window.show_case(make_ct(0, shape=(20, 32, 32)))
    return main_window


@pytest.fixture
def menus(monkeypatch) -> list[QMenu]:
    """The menus that pop up, recorded instead of running their own event loop (which would block)."""
    shown: list[QMenu] = []

    def record(menu: QMenu, *args, **kwargs) -> None:
        shown.append(menu)

    monkeypatch.setattr(QMenu, "exec", record)
    monkeypatch.setattr(QMenu, "exec_", record)
    return shown


@pytest.fixture
def uncaught(monkeypatch) -> list[BaseException]:
    """Exceptions that would print a traceback in the terminal: those reaching ``sys.excepthook``
    (raised in a Qt slot or event handler) or ``sys.unraisablehook``."""
    seen: list[BaseException] = []
    monkeypatch.setattr(sys, "excepthook", lambda kind, error, trace: seen.append(error))
    monkeypatch.setattr(sys, "unraisablehook", lambda unraisable: seen.append(unraisable.exc_value))
    return seen


def right_click(window, name: str) -> None:
    """Press and release the right mouse button on the layer list row that reads ``name``."""
    view = window.qt_viewer.layers
    model = view.model()
    rows = [model.index(row, 0) for row in range(model.rowCount())]
    index = next(index for index in rows if index.data(Qt.ItemDataRole.DisplayRole) == name)
    viewport = view.viewport()
    centre = QPointF(view.visualRect(index).center())
    for kind, buttons in (
        (QEvent.Type.MouseButtonPress, Qt.MouseButton.RightButton),
        (QEvent.Type.MouseButtonRelease, Qt.MouseButton.NoButton),
    ):
        event = QMouseEvent(
            kind,
            centre,
            QPointF(viewport.mapToGlobal(centre.toPoint())),
            Qt.MouseButton.RightButton,
            buttons,
            Qt.KeyboardModifier.NoModifier,
        )
        QApplication.sendEvent(viewport, event)


def menu_items(menu: QMenu, prefix: str = "") -> dict[str, QAction]:
    """Every item of ``menu`` and its submenus as a user reads it, e.g. ``Projections > max projection``."""
    items: dict[str, QAction] = {}
    for action in menu.actions():
        if action.isSeparator():
            continue
        if action.menu() is not None:
            items |= menu_items(action.menu(), f"{prefix}{action.text()} > ")
        else:
            items[prefix + action.text()] = action
    return items


def open_menu(window, name: str, menus: list[QMenu]) -> dict[str, QAction]:
    menus.clear()
    right_click(window, name)
    assert len(menus) == 1, f"no menu opened on {name!r}"
    return menu_items(menus[0])


def test_right_clicking_each_layer_opens_the_layer_menu(qtbot, ct_window, menus, uncaught):
    items = open_menu(ct_window, "ground truth", menus)
    for text in ("Toggle visibility", "Duplicate Layer", "Convert to Image", "Toggle lock"):
        assert items[text].isEnabled(), text
    assert not items["Split Stack"].isEnabled()  # labels are no image stack
    assert not items["Convert data type > Convert to uint8"].isEnabled()  # it is uint8 already

    items = open_menu(ct_window, "demo-ct-0", menus)
    for text in ("Toggle visibility", "Duplicate Layer", "Split Stack", "Projections > max projection"):
        assert items[text].isEnabled(), text
    assert not items["Convert to Image"].isEnabled()
    assert uncaught == []


def test_toggle_visibility_hides_and_shows_the_layer(qtbot, ct_window, menus, uncaught):
    truth = ct_window.viewer.layers["ground truth"]
    open_menu(ct_window, "ground truth", menus)["Toggle visibility"].trigger()
    assert not truth.visible
    view = ct_window.qt_viewer.layers
    row = view.model().index(0, 0)  # the top row: the last layer, the ground truth
    assert Qt.CheckState(row.data(Qt.ItemDataRole.CheckStateRole)) == Qt.CheckState.Unchecked
    open_menu(ct_window, "ground truth", menus)["Toggle visibility"].trigger()
    assert truth.visible
    assert uncaught == []


def test_duplicate_layer_copies_the_annotation_on_the_scan_grid(qtbot, ct_window, menus, uncaught):
    layers = ct_window.viewer.layers
    open_menu(ct_window, "ground truth", menus)["Duplicate Layer"].trigger()
    assert [layer.name for layer in layers] == ["demo-ct-0", "ground truth", "ground truth copy"]
    truth, copy = layers["ground truth"], layers["ground truth copy"]
    np.testing.assert_array_equal(copy.data, truth.data)
    copy.data[0, 0, 0] = 9  # painting the copy leaves the original alone
    assert truth.data[0, 0, 0] != 9
    copied = label_map_from_layer(copy)
    assert copied.fits(scan_from_layer(ct_window.scan_layer))
    assert copied.labels.name_of(2) == label_map_from_layer(truth).labels.name_of(2)
    assert uncaught == []


def test_convert_the_ground_truth_to_an_image(qtbot, ct_window, menus, uncaught):
    layers = ct_window.viewer.layers
    voxels = np.array(layers["ground truth"].data)
    open_menu(ct_window, "ground truth", menus)["Convert to Image"].trigger()
    converted = layers["ground truth"]
    assert type(converted).__name__ == "Image"
    np.testing.assert_array_equal(converted.data, voxels)
    assert ct_window.scan_layer is layers["demo-ct-0"]
    assert uncaught == []


def test_a_projection_is_not_taken_for_the_scan(qtbot, ct_window, menus, uncaught):
    """A projection carries the scan's metadata (napari copies it) but not its voxels: once the scan
    layer is deleted, the window has no scan and the cursor status line stays empty, not raising."""
    layers = ct_window.viewer.layers
    open_menu(ct_window, "demo-ct-0", menus)["Projections > max projection"].trigger()
    projection = layers["demo-ct-0 max-proj"]
    assert projection.data.shape == (32, 32)
    assert scan_from_layer(projection) is None
    layers.selection = {layers["demo-ct-0"]}
    qtbot.mouseClick(ct_window.qt_viewer.layerButtons.deleteButton, Qt.MouseButton.LeftButton)
    assert [layer.name for layer in layers] == ["ground truth", "demo-ct-0 max-proj"]
    assert ct_window.scan_layer is None
    ct_window.viewer.cursor.position = (10.0, 5.0, 5.0)
    assert ct_window.cursor_label.text() == ""
    assert uncaught == []
