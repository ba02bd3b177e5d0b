"""GUI test fixtures: napari's QApplication (so its resources and settings are set up) and the main window."""

from __future__ import annotations

import pytest


@pytest.fixture(scope="session")
def qapp():
    """Override pytest-qt's QApplication with napari's, which registers napari's icons and themes."""
    from napari.qt import get_qapp

    return get_qapp()


@pytest.fixture
def main_window(qtbot):
    """A shown medview main window, closed after the test."""
    from medview.qt.app import MainWindow

    window = MainWindow()
    qtbot.addWidget(window)
    window.show()
    qtbot.waitExposed(window)
    yield window
    window.close()


@pytest.fixture(autouse=True)
def dialogs(request, monkeypatch) -> list[tuple[str, str, str]]:
    """The message boxes a test's code shows through QMessageBox's static functions, as
    ``(kind, title, text)``, answered at once instead of blocking the test run on a modal dialog.

    A test marked ``real_dialogs`` gets the real boxes (and must close them itself)."""
    from qtpy.QtWidgets import QMessageBox

    shown: list[tuple[str, str, str]] = []
    if request.node.get_closest_marker("real_dialogs"):
        return shown

    def recorder(kind: str, answer):
        def show(parent, title, text, *args, **kwargs):
            shown.append((kind, title, text))
            return answer

        return staticmethod(show)

    for kind, answer in (
        ("warning", QMessageBox.StandardButton.Ok),
        ("critical", QMessageBox.StandardButton.Ok),
        ("information", QMessageBox.StandardButton.Ok),
    ):
        monkeypatch.setattr(QMessageBox, kind, recorder(kind, answer))
    return shown
