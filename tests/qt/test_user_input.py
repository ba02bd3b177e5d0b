"""The main window driven through the user's own input paths: the menubar, keyboard shortcuts and
file drops on the canvas, not the slots behind them."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from qtpy.QtCore import Qt
from window_input import drop_on_canvas, menu_action

from medview.demo import make_ct
from medview.qt import open_dialog

pytestmark = pytest.mark.gui


@pytest.fixture
def scan_file(monkeypatch, tmp_path) -> Path:
    """An axial CT slice written with pydicom, 48x40 pixels with a bright block at the top left."""
    monkeypatch.syspath_prepend(Path(__file__).parents[1] / "io")
    from io_scan_files import write_slice

    pixels = np.full((48, 40), 100, np.int16)
    pixels[:12, :10] = 1500
    return write_slice(tmp_path / "slice.dcm", pixels, (0.0, 0.0, 0.0))


@pytest.fixture
def asked(monkeypatch, scan_file) -> list[str]:
    """File dialogs answer with ``scan_file``; the list records each time one was asked."""
    calls: list[str] = []

    def choose_file(parent, scan_open):
        calls.append("Open a scan")
        return str(scan_file), False

    monkeypatch.setattr(open_dialog, "choose_file", choose_file)
    return calls


def shown_file(window) -> str | None:
    layer = window.scan_layer
    return None if layer is None else layer.metadata["medview_scan"].source


def focus(qtbot, window) -> None:
    window.activateWindow()
    window.setFocus()
    qtbot.waitUntil(window.isActiveWindow, timeout=5000)


def test_file_open_in_the_menubar_asks_for_a_file_and_shows_it(qtbot, main_window, asked, scan_file):
    menu_action(main_window, "File", "Open file…").trigger()
    qtbot.waitUntil(lambda: shown_file(main_window) == str(scan_file), timeout=30_000)
    assert asked == ["Open a scan"]
    assert "done" in main_window.task_bar.message


def test_ctrl_o_opens_the_file_dialog(qtbot, main_window, asked, scan_file):
    focus(qtbot, main_window)
    qtbot.keyClick(main_window, Qt.Key.Key_O, Qt.KeyboardModifier.ControlModifier)
    qtbot.waitUntil(lambda: shown_file(main_window) == str(scan_file), timeout=30_000)
    assert asked == ["Open a scan"]


def test_key_o_toggles_the_overlays_and_ctrl_down_steps_a_slice(qtbot, main_window):
    main_window.show_case(make_ct(0, shape=(20, 32, 32)))
    truth = main_window.viewer.layers["ground truth"]
    focus(qtbot, main_window)
    qtbot.keyClick(main_window, Qt.Key.Key_O)
    assert not truth.visible
    qtbot.keyClick(main_window, Qt.Key.Key_O)
    assert truth.visible

    start = main_window.viewer.dims.current_step[0]
    qtbot.keyClick(main_window, Qt.Key.Key_Down, Qt.KeyboardModifier.ControlModifier)
    assert main_window.viewer.dims.current_step[0] == (start + 1) % 20
    qtbot.keyClick(main_window, Qt.Key.Key_Up, Qt.KeyboardModifier.ControlModifier)
    assert main_window.viewer.dims.current_step[0] == start


def test_a_file_dropped_on_the_canvas_opens_and_a_bad_one_keeps_it(
    qtbot, main_window, errors, scan_file, tmp_path
):
    assert drop_on_canvas(main_window, scan_file).isAccepted()
    qtbot.waitUntil(lambda: shown_file(main_window) == str(scan_file), timeout=30_000)
    layers = list(main_window.viewer.layers)

    bad = tmp_path / "noise.dcm"
    bad.write_bytes(np.random.default_rng(1).integers(0, 256, 2048, dtype=np.uint8).tobytes())
    drop_on_canvas(main_window, bad)
    qtbot.waitUntil(lambda: bool(errors), timeout=30_000)
    [(title, text)] = errors
    assert "noise.dcm" in title and str(bad) in text
    assert list(main_window.viewer.layers) == layers and shown_file(main_window) == str(scan_file)
