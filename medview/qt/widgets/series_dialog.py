"""Ask the user which DICOM series of a folder to open."""

from __future__ import annotations

from collections.abc import Sequence

from qtpy.QtWidgets import (
    QAbstractItemView,
    QDialog,
    QDialogButtonBox,
    QLabel,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from medview.io import SeriesInfo

_COLUMNS = ("Description", "Modality", "Shape", "Series UID")


class SeriesDialog(QDialog):
    """A table of series (description, modality, shape, UID), the largest first and preselected.

    Double-click or OK accepts the selected row; ``selected_uid`` is then its UID.
    """

    def __init__(self, series: Sequence[SeriesInfo], parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Choose a series")
        self._series = list(series)
        self.table = QTableWidget(len(self._series), len(_COLUMNS), self)
        self.table.setHorizontalHeaderLabels(_COLUMNS)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.verticalHeader().setVisible(False)
        for row, info in enumerate(self._series):
            shape = " x ".join(str(s) for s in info.shape)
            for column, text in enumerate(
                (info.description or "(no description)", info.modality, shape, info.uid)
            ):
                self.table.setItem(row, column, QTableWidgetItem(text))
        self.table.resizeColumnsToContents()
        self.table.horizontalHeader().setStretchLastSection(True)
        if self._series:
            self.table.selectRow(0)
        self.table.cellDoubleClicked.connect(lambda *_: self.accept())
        buttons = QDialogButtonBox(
            QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel
        )
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        self.ok_button = buttons.button(QDialogButtonBox.StandardButton.Ok)
        layout = QVBoxLayout(self)
        layout.addWidget(QLabel(f"This folder holds {len(self._series)} series. Which one should open?"))
        layout.addWidget(self.table)
        layout.addWidget(buttons)
        self.resize(720, 320)

    @property
    def selected_uid(self) -> str | None:
        """The UID of the selected row, or ``None`` when no row is selected."""
        rows = self.table.selectionModel().selectedRows()
        return self._series[rows[0].row()].uid if rows else None


def choose_series(parent: QWidget | None, series: Sequence[SeriesInfo]) -> str | None:
    """Show the dialog modally; the chosen series' UID, or ``None`` when the user cancels.

    With a single series there is nothing to choose: its UID is returned without asking.
    """
    if len(series) == 1:
        return series[0].uid
    dialog = SeriesDialog(series, parent)
    try:
        return dialog.selected_uid if dialog.exec() == QDialog.DialogCode.Accepted else None
    finally:
        dialog.deleteLater()
