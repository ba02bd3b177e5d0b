"""A matplotlib figure inside Qt (``FigureCanvasQTAgg``) for the panels' plots."""

from __future__ import annotations

from matplotlib.backends.backend_qtagg import FigureCanvasQTAgg
from matplotlib.figure import Figure
from qtpy.QtWidgets import QSizePolicy, QWidget


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

    def clear(self) -> None:
        """Remove every artist and title and redraw empty axes."""
        self.axes.clear()
        self.draw_idle()
