"""Old version against new: both run on the same workspace cases, one row per case, the paired verdict.

The training panel's finished run lands here (the main window connects them): the new version is
compared with the one it was fine-tuned from, on the validation cases of its run. The user can also
pick any fine-tuned version of the workspace and press Compare. Scores come from
:func:`medview.training.compare.compare_versions`, run in a worker through the TaskBar; clicking a
row emits ``case_requested(case_id)`` so the main window can open that case.
"""

from __future__ import annotations

import math
from pathlib import Path

from qtpy.QtCore import Qt, Signal
from qtpy.QtGui import QColor
from qtpy.QtWidgets import (
    QComboBox,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from medview.core.progress import CancelToken, ProgressCallback
from medview.metrics.paired import PairedComparison
from medview.qt.widgets.plot_canvas import PlotCanvas
from medview.qt.widgets.task_bar import TaskBar
from medview.training.compare import VersionComparison, compare_versions
from medview.training.versions import MODELS, list_versions

COLUMNS = ("case", "old", "new", "difference")
BETTER, WORSE = "#4caf50", "#e0574f"


class VersionComparisonView(QWidget):
    """Chooses a fine-tuned version, compares it with its base and shows the outcome."""

    case_requested = Signal(str)

    def __init__(self, task_bar: TaskBar, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.task_bar = task_bar
        self.workspace: Path | None = None
        self.result: VersionComparison | None = None
        self.versions = QComboBox()
        self.versions.setToolTip("A fine-tuned version of the open workspace")
        self.compare_button = QPushButton("Compare with its base")
        self.compare_button.setToolTip(
            "Run this version and the one it was fine-tuned from on its validation cases"
        )
        self.compare_button.clicked.connect(self._compare_chosen)
        self.table = QTableWidget(0, len(COLUMNS))
        self.table.setHorizontalHeaderLabels(COLUMNS)
        self.table.setEditTriggers(QTableWidget.EditTrigger.NoEditTriggers)
        self.table.setSelectionBehavior(QTableWidget.SelectionBehavior.SelectRows)
        self.table.cellClicked.connect(
            lambda row, _: self.case_requested.emit(self.table.item(row, 0).text())
        )
        self.summary = QLabel("Train a model, or choose a fine-tuned version, to compare it with its base.")
        self.summary.setWordWrap(True)
        self.summary.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.plot = PlotCanvas(self, layout=None)  # fixed margins redraw faster on the GUI thread
        chooser = QHBoxLayout()
        chooser.addWidget(self.versions, 1)
        chooser.addWidget(self.compare_button)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addLayout(chooser)
        layout.addWidget(self.summary)
        layout.addWidget(self.table)
        layout.addWidget(self.plot)
        self._refresh_versions()

    def set_workspace(self, directory: str | Path | None) -> None:
        """List the fine-tuned versions of the workspace at ``directory``."""
        self.workspace = None if directory is None else Path(directory)
        self._refresh_versions()

    def compare(self, workspace: str | Path, model: str, version: str | None = None) -> CancelToken | None:
        """Compare ``version`` (default: the newest) of ``model`` with its base, in a worker."""
        if self.task_bar.busy:
            self.summary.setText("Another task is running; compare again when it has finished.")
            return None
        self.set_workspace(workspace)
        self.versions.setCurrentText(f"{model} {version}" if version else self.versions.currentText())

        def work(progress: ProgressCallback, cancel: CancelToken) -> VersionComparison:
            return compare_versions(workspace, model, version, progress=progress, cancel=cancel)

        self.summary.setText(f"Comparing {model} {version or ''} with its base…")
        return self.task_bar.start(work, self._show, description="Comparing versions")

    def rows(self) -> list[list[str]]:
        """The table's cells top to bottom, as the user reads them."""
        return [
            [self.table.item(r, c).text() for c in range(self.table.columnCount())]
            for r in range(self.table.rowCount())
        ]

    def _compare_chosen(self) -> None:
        if self.workspace is None or not self.versions.currentText():
            self.summary.setText("Open a workspace with a fine-tuned version first.")
            return
        model, version = self.versions.currentText().rsplit(" ", 1)
        self.compare(self.workspace, model, version)

    def _refresh_versions(self) -> None:
        current = self.versions.currentText()
        self.versions.clear()
        models = self.workspace / MODELS if self.workspace is not None else None
        if models is not None and models.is_dir():
            for folder in sorted(path for path in models.iterdir() if path.is_dir()):
                self.versions.addItems(
                    [f"{v.model} {v.version}" for v in list_versions(self.workspace, folder.name)]
                )
        if current:
            self.versions.setCurrentText(current)
        self.compare_button.setEnabled(self.versions.count() > 0)

    def _show(self, result: VersionComparison) -> None:
        self.result = result
        overall = result.overall
        self.table.setHorizontalHeaderLabels(
            [
                "case",
                f"{overall.metric} {result.old_version}",
                f"{overall.metric} {result.new_version}",
                "difference",
            ]
        )
        self.table.setRowCount(len(overall.cases))
        for r, case in enumerate(overall.cases):
            for c, text in enumerate(
                (case.case, f"{case.old:.4f}", f"{case.new:.4f}", f"{case.difference:+.4f}")
            ):
                item = QTableWidgetItem(text)
                if c == 3 and math.isfinite(case.difference) and case.difference != 0:
                    item.setForeground(QColor(BETTER if _gained(case.difference, overall) else WORSE))
                self.table.setItem(r, c, item)
        lines = [f"{result.model} {result.old_version} → {result.new_version}: {overall.describe()}"]
        lines += [f"  {name}: {comparison.describe()}" for name, comparison in result.by_class.items()]
        self.summary.setText("\n".join(lines))
        self._plot(result)

    def _plot(self, result: VersionComparison) -> None:
        """One line per case from the old score to the new: green when it rose, red when it fell."""
        axes = self.plot.axes
        axes.clear()
        overall = result.overall
        for case in overall.cases:
            colour = BETTER if _gained(case.difference, overall) else WORSE
            axes.plot([0, 1], [case.old, case.new], marker="o", color=colour, alpha=0.8)
        axes.plot([0, 1], [overall.old.value, overall.new.value], color="#333333", linewidth=3, label="mean")
        axes.set_xticks([0, 1], [result.old_version, result.new_version])
        axes.set_xlim(-0.2, 1.2)
        axes.set_ylabel(overall.metric)
        axes.legend(loc="best", fontsize="small")
        self.plot.draw_idle()


def _gained(difference: float, comparison: PairedComparison) -> bool:
    return difference > 0 if comparison.higher_is_better else difference < 0
