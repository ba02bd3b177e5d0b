"""The Annotate panel's "Edit" group: interpolation, island removal, boxes and points, undo, save."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from qtpy.QtGui import QKeySequence
from qtpy.QtWidgets import QGridLayout, QGroupBox, QPushButton, QSpinBox

if TYPE_CHECKING:
    from medview.qt.widgets.annotation_panel import AnnotationPanel


class EditBox(QGroupBox):
    """Buttons that call the panel's actions; ``islands`` is the smallest piece kept (voxels)."""

    def __init__(self, panel: AnnotationPanel, shortcuts: dict[str, str]) -> None:
        super().__init__("Edit")
        self.islands = QSpinBox()
        self.islands.setRange(1, 10_000_000)
        self.islands.setValue(10)
        self.islands.setSuffix(" voxels")
        self.islands.setToolTip("Islands smaller than this are erased")

        def button(text: str, tip: str, slot: Callable, shortcut: str | None = None) -> QPushButton:
            made = QPushButton(text)
            made.setToolTip(f"{tip} ({shortcuts[shortcut]})" if shortcut else tip)
            made.clicked.connect(lambda checked=False: slot())
            if shortcut and shortcuts[shortcut].isalpha():  # chords are window shortcuts (the panel's)
                made.setShortcut(QKeySequence(shortcuts[shortcut]))
            return made

        self.undo = button("Undo", "Undo the last edit", panel.undo, "undo")
        self.redo = button("Redo", "Redo the last undone edit", panel.redo, "redo")
        self.save = button(
            "Save", "Save a new annotation version (or export it to a file)", panel.save, "save"
        )
        layout = QGridLayout(self)
        for row, column, widget in (
            (
                0,
                0,
                button(
                    "Interpolate slices",
                    "Fill the slices between annotated slices of the selected label",
                    panel.interpolate,
                    "interpolate",
                ),
            ),
            (
                1,
                0,
                button(
                    "Remove islands", "Erase connected pieces smaller than the size", panel.remove_islands
                ),
            ),
            (1, 1, self.islands),
            (2, 0, button("Boxes", "Add a layer to draw detection boxes", panel.add_boxes_layer, "boxes")),
            (2, 1, button("Points", "Add a layer to place detection points", panel.add_points_layer)),
            (3, 0, self.undo),
            (3, 1, self.redo),
        ):
            layout.addWidget(widget, row, column)
        layout.addWidget(self.save, 4, 0, 1, 2)
