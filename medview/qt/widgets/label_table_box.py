"""The label table of the edited annotation: presets, names, colours, adding and removing classes."""

from __future__ import annotations

from dataclasses import replace

from qtpy.QtCore import Qt, Signal
from qtpy.QtGui import QColor
from qtpy.QtWidgets import (
    QColorDialog,
    QComboBox,
    QGridLayout,
    QGroupBox,
    QPushButton,
    QTableWidget,
    QTableWidgetItem,
    QWidget,
)

from medview.core.labels import PRESET_NAMES, LabelClass, LabelTable, default_colour, preset


class LabelTableBox(QGroupBox):
    """Shows a :class:`LabelTable` and lets the user edit it.

    Signals:
        changed(object): the edited table (a new :class:`LabelTable`), after any change.
        label_selected(int): the value of the row the user selected (it paints).
        error(str): a change the table refused (a duplicate name).
    """

    changed = Signal(object)
    label_selected = Signal(int)
    error = Signal(str)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__("Labels", parent)
        self.labels = LabelTable()
        self.enabled = False
        self._preset = QComboBox()
        self._preset.addItems(PRESET_NAMES)
        self._preset.setToolTip("Label table preset for new annotations and 'Use preset'")
        use_preset = _button("Use preset", "Replace the label table with the chosen preset", self._use_preset)
        self._table = QTableWidget(0, 3)
        self._table.setHorizontalHeaderLabels(["Value", "Name", "Colour"])
        self._table.verticalHeader().setVisible(False)
        self._table.setToolTip(
            "Double-click a name to rename, a colour to change it; the selected row paints"
        )
        self._table.itemChanged.connect(self._on_table_edit)
        self._table.cellDoubleClicked.connect(self._pick_colour)
        self._table.currentCellChanged.connect(self._on_row_selected)
        add_class = _button("Add class", "Add a label class with the next free value", self._add_class)
        remove_class = _button("Remove class", "Remove the selected class from the table", self._remove_class)
        layout = QGridLayout(self)
        layout.addWidget(self._preset, 0, 0)
        layout.addWidget(use_preset, 0, 1)
        layout.addWidget(self._table, 1, 0, 1, 2)
        layout.addWidget(add_class, 2, 0)
        layout.addWidget(remove_class, 2, 1)

    @property
    def preset(self) -> LabelTable:
        """The table of the preset chosen for new annotations."""
        return preset(self._preset.currentText())

    def show_table(self, labels: LabelTable, enabled: bool = True) -> None:
        """Show ``labels`` (editable when ``enabled``, i.e. an annotation is being edited)."""
        self.labels, self.enabled = labels, enabled
        self._table.blockSignals(True)
        self._table.setRowCount(0)
        for label in labels:
            row = self._table.rowCount()
            self._table.insertRow(row)
            value = QTableWidgetItem(str(label.value))
            value.setFlags(value.flags() & ~Qt.ItemFlag.ItemIsEditable)
            colour = QTableWidgetItem("")
            colour.setFlags(colour.flags() & ~Qt.ItemFlag.ItemIsEditable)
            colour.setBackground(QColor(*label.colour))
            self._table.setItem(row, 0, value)
            self._table.setItem(row, 1, QTableWidgetItem(label.name))
            self._table.setItem(row, 2, colour)
        self._table.blockSignals(False)

    def set_colour(self, value: int, colour: tuple[int, int, int]) -> None:
        self._change([replace(c, colour=colour) if c.value == value else c for c in self.labels])

    def _change(self, classes: list[LabelClass]) -> None:
        if not self.enabled:
            return
        try:
            table = LabelTable(classes)
        except ValueError as error:
            self.error.emit(str(error))
            self.show_table(self.labels)
            return
        self.show_table(table)
        self.changed.emit(table)

    def _use_preset(self) -> None:
        self._change(list(self.preset))

    def _add_class(self) -> None:
        value = max(self.labels.values, default=0) + 1
        self._change([*self.labels, LabelClass(value, f"class {value}", default_colour(value))])

    def _remove_class(self) -> None:
        row = self._table.currentRow()
        if row < 0:
            return
        value = int(self._table.item(row, 0).text())
        self._change([label for label in self.labels if label.value != value])

    def _on_table_edit(self, item: QTableWidgetItem) -> None:
        if item.column() != 1:
            return
        value = int(self._table.item(item.row(), 0).text())
        name = item.text().strip()
        self._change([replace(c, name=name) if c.value == value else c for c in self.labels])

    def _pick_colour(self, row: int, column: int) -> None:
        if not self.enabled or column != 2:
            return
        value = int(self._table.item(row, 0).text())
        current = self.labels[value]
        chosen = QColorDialog.getColor(QColor(*current.colour), self, f"Colour of {current.name}")
        if chosen.isValid():
            self.set_colour(value, (chosen.red(), chosen.green(), chosen.blue()))

    def _on_row_selected(self, row: int, *_: int) -> None:
        if row >= 0 and self._table.item(row, 0) is not None:
            self.label_selected.emit(int(self._table.item(row, 0).text()))


def _button(text: str, tip: str, slot) -> QPushButton:
    button = QPushButton(text)
    button.setToolTip(tip)
    button.clicked.connect(slot)
    return button
