"""The series dialog lists a folder's series and returns the one the user picks."""

from __future__ import annotations

import pytest
from qtpy.QtCore import Qt, QTimer
from qtpy.QtWidgets import QApplication

from medview.io import SeriesInfo
from medview.qt.widgets.series_dialog import SeriesDialog, choose_series

pytestmark = pytest.mark.gui

SERIES = [
    SeriesInfo("1.2.3.1", "AX CT 1mm", "CT", (300, 512, 512)),
    SeriesInfo("1.2.3.2", "", "CT", (1, 512, 512)),
    SeriesInfo("1.2.3.3", "T1 SAG", "MR", (20, 256, 256)),
]


def test_lists_each_series_with_what_the_user_recognises(qtbot):
    dialog = SeriesDialog(SERIES)
    qtbot.addWidget(dialog)
    dialog.show()
    qtbot.waitExposed(dialog)
    rows = [[dialog.table.item(r, c).text() for c in range(4)] for r in range(dialog.table.rowCount())]
    assert rows == [
        ["AX CT 1mm", "CT", "300 x 512 x 512", "1.2.3.1"],
        ["(no description)", "CT", "1 x 512 x 512", "1.2.3.2"],
        ["T1 SAG", "MR", "20 x 256 x 256", "1.2.3.3"],
    ]
    assert dialog.selected_uid == "1.2.3.1"  # the largest series is preselected


def _when_shown(callback):
    def poll():
        dialog = QApplication.activeModalWidget()
        if isinstance(dialog, SeriesDialog) and dialog.isVisible():
            callback(dialog)
        else:
            QTimer.singleShot(20, poll)

    QTimer.singleShot(0, poll)


def test_choosing_a_row_and_ok_returns_its_uid(qtbot):
    def pick_mr(dialog):
        rect = dialog.table.visualRect(dialog.table.model().index(2, 0))
        qtbot.mouseClick(dialog.table.viewport(), Qt.MouseButton.LeftButton, pos=rect.center())
        qtbot.mouseClick(dialog.ok_button, Qt.MouseButton.LeftButton)

    _when_shown(pick_mr)
    assert choose_series(None, SERIES) == "1.2.3.3"


def test_cancel_returns_none(qtbot):
    _when_shown(lambda dialog: dialog.reject())
    assert choose_series(None, SERIES) is None


def test_a_single_series_needs_no_question():
    assert choose_series(None, SERIES[:1]) == "1.2.3.1"
