"""The metrics of every case of a workspace that has a prediction and an annotation, worst first.

A sortable table (one row per case and label) with the mean, median and bootstrap 95% interval of
each label's Dice and HD95 beneath; clicking a row emits ``case_requested(case_id)``, which the main
window connects to the case browser to open that case. Scoring runs in a worker through the TaskBar.
"""

from __future__ import annotations

from pathlib import Path

from qtpy.QtCore import Qt, Signal
from qtpy.QtWidgets import QLabel, QTableWidget, QTableWidgetItem, QVBoxLayout, QWidget

from medview.core.progress import CancelToken, ProgressCallback
from medview.metrics.cumulative import SegmentationEvaluator, evaluate_cases, worst_first
from medview.metrics.workspace_cases import workspace_pairs
from medview.qt.widgets.task_bar import TaskBar
from medview.workspace import Workspace

COLUMNS = ("case", "label", "dice", "hd95", "assd", "nsd", "volume_ml_diff")
SUMMARISED = ("dice", "hd95")


class CaseMetricsTable(QWidget):
    """Scores a workspace's cases and lists them worst Dice first."""

    case_requested = Signal(str)

    def __init__(self, task_bar: TaskBar, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.task_bar = task_bar
        self.evaluator: SegmentationEvaluator | None = None
        self.table = QTableWidget(0, len(COLUMNS))
        self.table.setHorizontalHeaderLabels(COLUMNS)
        self.table.setSortingEnabled(True)
        self.table.setEditTriggers(QTableWidget.EditTrigger.NoEditTriggers)
        self.table.setSelectionBehavior(QTableWidget.SelectionBehavior.SelectRows)
        self.table.cellClicked.connect(
            lambda row, column: self.case_requested.emit(self.table.item(row, 0).text())
        )
        self.summary = QLabel()
        self.summary.setWordWrap(True)
        self.summary.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.table)
        layout.addWidget(self.summary)

    def score(self, directory: str | Path) -> None:
        """Score every case of the workspace at ``directory`` that has both a prediction and an annotation."""

        def work(progress: ProgressCallback, cancel: CancelToken) -> SegmentationEvaluator:
            workspace = Workspace.open(directory)
            try:
                pairs = workspace_pairs(workspace)
            finally:
                workspace.close()
            return evaluate_cases(pairs, progress=progress, cancel=cancel)

        self.task_bar.start(work, self._show, description="Scoring the workspace")

    def rows(self) -> list[list[str]]:
        """The table's cells top to bottom, as the user reads them."""
        return [
            [self.table.item(r, c).text() for c in range(self.table.columnCount())]
            for r in range(self.table.rowCount())
        ]

    def _show(self, evaluator: SegmentationEvaluator) -> None:
        self.evaluator = evaluator
        rows = worst_first(evaluator.aggregate())
        self.table.setSortingEnabled(False)
        self.table.setRowCount(len(rows))
        for r, row in enumerate(rows):
            cells = [row.case, row.label_name, *(row.values.get(key, float("nan")) for key in COLUMNS[2:])]
            for c, value in enumerate(cells):
                item = QTableWidgetItem()
                item.setData(
                    Qt.ItemDataRole.DisplayRole, value if isinstance(value, str) else round(value, 4)
                )
                self.table.setItem(r, c, item)
        self.table.setSortingEnabled(True)
        lines = []
        for s in evaluator.summary():
            if s.metric in SUMMARISED:
                name = next((row.label_name for row in rows if row.label == s.label), str(s.label))
                mean = s.mean
                lines.append(
                    f"{name} {s.metric}: mean {mean.value:.3g} (95% CI {mean.low:.3g}–{mean.high:.3g}), "
                    f"median {s.median:.3g}, {s.cases} cases"
                )
        self.summary.setText("\n".join(lines) or "No case has both a prediction and an annotation.")
