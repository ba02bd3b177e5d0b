"""A matplotlib figure inside Qt (``FigureCanvasQTAgg``) for the panels' plots, which the user can save
as PNG or SVG ("Save plot…" in its right-click menu, or the button of a :class:`PlotBox`)."""

from __future__ import annotations

from pathlib import Path

from matplotlib.backends.backend_qtagg import FigureCanvasQTAgg
from matplotlib.figure import Figure
from qtpy.QtCore import Qt
from qtpy.QtGui import QAction
from qtpy.QtWidgets import QFileDialog, QHBoxLayout, QPushButton, QSizePolicy, QVBoxLayout, QWidget

SAVE_FILTER = "PNG image (*.png);;SVG drawing (*.svg);;PDF document (*.pdf)"
_SAVE_DPI = 200


class PlotCanvas(FigureCanvasQTAgg):
    """One figure with one axes; ``axes`` is cleared and redrawn by its owner."""

    def __init__(
        self, parent: QWidget | None = None, height_inches: float = 2.2, layout: str | None = "constrained"
    ) -> None:
        """``layout=None`` uses fixed margins, which redraw faster than a constrained layout."""
        figure = Figure(figsize=(4.0, height_inches), layout=layout)
        if layout is None:
            figure.subplots_adjust(left=0.16, right=0.97, top=0.86, bottom=0.24)
        super().__init__(figure)
        self.setParent(parent)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Preferred)
        self.setMinimumHeight(int(height_inches * 60))
        self.axes = figure.add_subplot()
        self.save_action = QAction("Save plot…", self)
        self.save_action.setToolTip("Save this plot as a PNG image, an SVG drawing or a PDF")
        self.save_action.triggered.connect(self.ask_save)
        self.addAction(self.save_action)
        self.setContextMenuPolicy(Qt.ContextMenuPolicy.ActionsContextMenu)

    def clear(self) -> None:
        """Remove every artist and title and redraw empty axes."""
        self.axes.clear()
        self.draw_idle()

    def save(self, path: str | Path) -> Path:
        """Write the figure as drawn to ``path``; the suffix (``.png``, ``.svg``, ``.pdf``) sets the
        format."""
        path = Path(path)
        self.figure.savefig(path, dpi=_SAVE_DPI, facecolor="white")
        return path

    def ask_save(self) -> None:
        """Ask where to save the plot, then save it there."""
        path, chosen = QFileDialog.getSaveFileName(self, "Save plot", "plot.png", SAVE_FILTER)
        if not path:
            return
        if not Path(path).suffix:  # a name typed without a suffix gets the chosen filter's
            path += ".svg" if "svg" in chosen else ".pdf" if "pdf" in chosen else ".png"
        self.save(path)


class PlotBox(QWidget):
    """A :class:`PlotCanvas` with a "Save plot…" button under its right corner."""

    def __init__(self, canvas: PlotCanvas, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.canvas = canvas
        self.save_button = QPushButton("Save plot…")
        self.save_button.setToolTip(canvas.save_action.toolTip())
        self.save_button.clicked.connect(canvas.ask_save)
        buttons = QHBoxLayout()
        buttons.setContentsMargins(0, 0, 0, 0)
        buttons.addStretch()
        buttons.addWidget(self.save_button)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(2)
        layout.addWidget(canvas)
        layout.addLayout(buttons)
