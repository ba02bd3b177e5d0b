"""A matplotlib figure inside Qt (``FigureCanvasQTAgg``) for the panels' plots."""

from __future__ import annotations

from matplotlib.backends.backend_qtagg import FigureCanvasQTAgg
from matplotlib.figure import Figure
from qtpy.QtWidgets import QSizePolicy, QWidget


class PlotCanvas(FigureCanvasQTAgg):
    """One figure with one axes; ``axes`` is cleared and redrawn by its owner."""

    def __init__(self, parent: QWidget | None = None, height_inches: float = 2.2) -> None:
        figure = Figure(figsize=(4.0, height_inches), layout="constrained")
        super().__init__(figure)
        self.setParent(parent)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Preferred)
        self.setMinimumHeight(int(height_inches * 60))
        self.axes = figure.add_subplot()

    def clear(self) -> None:
        """Remove every artist and title and redraw empty axes."""
        self.axes.clear()
        self.draw_idle()
