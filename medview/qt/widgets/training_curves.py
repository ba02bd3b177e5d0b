"""The training panel's two plots: training loss per epoch, and the validation metric per epoch with
the starting model's score as a dashed line, each line named in a legend."""

from __future__ import annotations

from collections.abc import Sequence

from matplotlib.lines import Line2D
from matplotlib.ticker import MaxNLocator
from qtpy.QtWidgets import QVBoxLayout, QWidget

from medview.qt.widgets.plot_canvas import PlotCanvas
from medview.training.command import metric_title

BASELINE_COLOUR = "grey"


class TrainingCurves(QWidget):
    """Loss and validation score per epoch; :meth:`show_history` moves lines drawn once to new data,
    because a plot rebuilt from scratch every epoch costs the GUI thread several times as long."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        # fixed margins: a constrained layout is solved at every redraw, once per epoch, on the GUI thread
        self.loss_plot = PlotCanvas(self, layout=None)
        self.score_plot = PlotCanvas(self, layout=None)
        self.loss_line = _curve(self.loss_plot, "training loss")
        self.score_line = _curve(self.score_plot, "validation score")
        self.baseline_line = self.score_plot.axes.axhline(
            0.0, color=BASELINE_COLOUR, linestyle="--", linewidth=1, label="before training", visible=False
        )
        self._legend_labels: tuple[str, ...] = ()
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.loss_plot)
        layout.addWidget(self.score_plot)

    def show_history(
        self, history: Sequence[dict], baseline: float | None, metric: str | None = None
    ) -> None:
        """Plot the epoch events ``history`` (``epoch``, ``loss``, ``val_score``) and the starting
        model's ``baseline`` score of ``metric`` (default: the history's), if known."""
        metric = metric or (history[-1]["metric"] if history else None)
        title = f"validation {metric_title(metric)}" if metric else "validation score"
        self.score_plot.axes.set_title(title, fontsize=9)
        self.score_line.set_label(title)
        self.baseline_line.set_visible(baseline is not None)
        if baseline is not None:  # dashed: where the model started, so a gain is seen at once
            self.baseline_line.set_ydata([baseline, baseline])
            self.baseline_line.set_label(f"before training ({baseline:.3f})")
        epochs = [event["epoch"] for event in history]
        for canvas, line, key in (
            (self.loss_plot, self.loss_line, "loss"),
            (self.score_plot, self.score_line, "val_score"),
        ):
            line.set_data(epochs, [event[key] for event in history])
            canvas.axes.relim(visible_only=True)
            canvas.axes.autoscale_view()
        self._update_legend(bool(history), baseline is not None)
        self.loss_plot.draw_idle()
        self.score_plot.draw_idle()

    def legend_texts(self) -> list[str]:
        """The validation plot's legend entries, as the user reads them."""
        legend = self.score_plot.axes.get_legend()
        return [] if legend is None else [text.get_text() for text in legend.get_texts()]

    def _update_legend(self, curve: bool, baseline: bool) -> None:
        """Name what is drawn; the legend is rebuilt only when its entries change (not every epoch)."""
        lines = [line for line, shown in ((self.score_line, curve), (self.baseline_line, baseline)) if shown]
        labels = tuple(line.get_label() for line in lines)
        if labels == self._legend_labels:
            return
        self._legend_labels = labels
        legend = self.score_plot.axes.get_legend()
        if legend is not None:
            legend.remove()
        if lines:
            self.score_plot.axes.legend(lines, labels, loc="lower right", fontsize=7)


def _curve(canvas: PlotCanvas, title: str) -> Line2D:
    """An empty curve per epoch on ``canvas``, titled."""
    (line,) = canvas.axes.plot([], [], marker="o", label=title)
    canvas.axes.set_title(title, fontsize=9)
    canvas.axes.set_xlabel("epoch", fontsize=8)
    canvas.axes.xaxis.set_major_locator(MaxNLocator(integer=True))  # epochs are whole
    return line
