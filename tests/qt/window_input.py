"""What a user does to the main window, as Qt events: menu actions found by their text, file drops."""

from __future__ import annotations

from pathlib import Path

from qtpy.QtCore import QMimeData, QPoint, QPointF, Qt, QUrl
from qtpy.QtGui import QAction, QDragEnterEvent, QDropEvent
from qtpy.QtWidgets import QApplication


def menu_action(window, menu: str, text: str) -> QAction:
    """The action a user reads as ``text`` in the menubar's ``menu`` (ampersands ignored)."""
    for top in window.menuBar().actions():
        if top.text().replace("&", "") == menu:
            for action in top.menu().actions():
                if action.text().replace("&", "") == text:
                    return action
    raise LookupError(f"no {menu} > {text} in the menubar")


def submenu_action(window, menu: str, submenu: str, text: str) -> QAction:
    """The action ``text`` in the submenu ``submenu`` of the menubar's ``menu``."""
    for top in window.menuBar().actions():
        if top.text().replace("&", "") == menu:
            for item in top.menu().actions():
                if item.menu() is not None and item.text().replace("&", "") == submenu:
                    for action in item.menu().actions():
                        if action.text().replace("&", "") == text:
                            return action
    raise LookupError(f"no {menu} > {submenu} > {text} in the menubar")


def drop_on_canvas(window, path: str | Path, modifiers=Qt.KeyboardModifier.NoModifier) -> QDropEvent:
    """Drag ``path`` onto the canvas and drop it, as from a file manager (holding ``modifiers``);
    returns the drop event.

    Qt delivers a drop to the widget that accepted the drag's enter event, so both are sent, to the
    canvas itself; Qt passes them up to the widget that takes drops.
    """
    mime = QMimeData()
    mime.setUrls([QUrl.fromLocalFile(str(path))])
    target = window.qt_viewer.canvas.native
    centre = QPoint(target.width() // 2, target.height() // 2)
    buttons = Qt.MouseButton.LeftButton
    enter = QDragEnterEvent(centre, Qt.DropAction.CopyAction, mime, buttons, modifiers)
    QApplication.sendEvent(target, enter)
    drop = QDropEvent(QPointF(centre), Qt.DropAction.CopyAction, mime, buttons, modifiers)
    QApplication.sendEvent(target, drop)
    return drop
