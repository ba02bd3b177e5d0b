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
