"""Old version against new: both run on the same workspace cases, one row per case, the paired verdict.

The training panel's finished run lands here (the main window connects them): the new version is
compared with the one it was fine-tuned from, on the workspace's test cases (never trained on, never
used to choose the checkpoint; a version made before test cases existed is compared on its validation
cases, and the view says those chose the checkpoint). The user can also pick any fine-tuned version of
the workspace and press Compare. Scores come from :func:`medview.training.compare.compare_versions`, run
in a worker through the TaskBar; clicking a row emits ``case_requested(case_id)`` so the main window
can open that case.

Small samples are shown honestly: below :data:`~medview.metrics.paired.MIN_CASES_FOR_INTERVAL` scored
cases there is no interval and no verdict, only the per-case differences; at or above it the
interval is drawn and its method named. Classes that got worse beyond their noise are flagged.
"""

from __future__ import annotations

import math
from pathlib import Path

from qtpy.QtCore import Qt, Signal
from qtpy.QtGui import QColor, QFont
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
from medview.metrics.paired import MIN_CASES_FOR_INTERVAL, PairedComparison
from medview.qt.widgets.plot_canvas import PlotCanvas
from medview.qt.widgets.task_bar import TaskBar
from medview.training.compare import CASE_WORDS, VALIDATION_CAVEAT, VersionComparison, compare_versions
from medview.training.versions import MODELS, list_versions

COLUMNS = ("case", "old", "new", "difference")
CLASS_COLUMNS = ("class", "old version", "new version", "difference", "flag")
BETTER, WORSE, NEUTRAL = "#4caf50", "#e0574f", "#9e9e9e"
WORSE_FLAG = "worse beyond its noise"


class VersionComparisonView(QWidget):
    """Chooses a fine-tuned version, compares it with its base and shows the outcome: which cases were
    scored, the verdict (or why there is none), each case, each class, and the per-case differences."""

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
            "Run this version and the one it was fine-tuned from on the workspace's test cases "
            "(never trained on, never used to choose the checkpoint)"
        )
        self.compare_button.clicked.connect(self._compare_chosen)
        self.header = QLabel("")
        bold = QFont(self.header.font())
        bold.setBold(True)
        self.header.setFont(bold)
        self.header.setWordWrap(True)
        self.table = _table(COLUMNS)
        self.table.cellClicked.connect(
            lambda row, _: self.case_requested.emit(self.table.item(row, 0).text())
        )
        self.class_table = _table(CLASS_COLUMNS)
        self.class_table.setToolTip(
            f"Each class's mean score; '{WORSE_FLAG}': a drop beyond the case-to-case noise"
        )
        self.class_table.hide()
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
        layout.addWidget(self.header)
        layout.addWidget(self.summary)
        layout.addWidget(self.table)
        layout.addWidget(self.class_table)
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

        self.summary.setText(f"Comparing {model} {version or ''} with its base on the test cases…")
        return self.task_bar.start(work, self.show_result, description="Comparing versions")

    def show_result(self, result: VersionComparison) -> None:
        """Show ``result``: header, verdict, the case and class tables and the per-case differences."""
        self.result = result
        self.header.setText(heading(result))
        self.summary.setText(verdict_text(result))
        self.summary.setToolTip(result.describe())  # the same words as ``medview compare``
        self._show_cases(result)
        self._show_classes(result)
        self._plot(result)

    def rows(self) -> list[list[str]]:
        """The case table's cells top to bottom, as the user reads them."""
        return _cells(self.table)

    def class_rows(self) -> list[list[str]]:
        """The class table's cells top to bottom (empty when the model has no classes to compare)."""
        return _cells(self.class_table)

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

    def _show_cases(self, result: VersionComparison) -> None:
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
                    item.setForeground(QColor(_colour(case.difference, overall)))
                self.table.setItem(r, c, item)

    def _show_classes(self, result: VersionComparison) -> None:
        """One row per class: mean old and new, the difference (with its interval when there is one)
        and a flag; a class worse beyond its noise is written in the WORSE colour, in bold."""
        worse = set(result.worse_classes)
        self.class_table.setHorizontalHeaderLabels(
            ["class", result.old_version, result.new_version, "difference", "flag"]
        )
        self.class_table.setRowCount(len(result.by_class))
        for r, (name, comparison) in enumerate(result.by_class.items()):
            d = comparison.difference
            difference = f"{d.value:+.4f}"
            if comparison.has_interval:
                difference += f" ({d.low:+.4f} to {d.high:+.4f})"
            flag = WORSE_FLAG if name in worse else comparison.verdict
            cells = (name, f"{comparison.old.value:.4f}", f"{comparison.new.value:.4f}", difference, flag)
            for c, text in enumerate(cells):
                item = QTableWidgetItem(text)
                if name in worse:
                    item.setForeground(QColor(WORSE))
                    font = item.font()
                    font.setBold(True)
                    item.setFont(font)
                self.class_table.setItem(r, c, item)
        self.class_table.resizeColumnsToContents()
        self.class_table.setVisible(bool(result.by_class))

    def _plot(self, result: VersionComparison) -> None:
        """The per-case differences (new minus old) as bars, green where the new version scored better,
        red where worse; with enough cases, the mean and its interval, the method in the legend."""
        axes = self.plot.axes
        axes.clear()
        overall = result.overall
        names = [case.case for case in overall.cases]
        differences = [case.difference if math.isfinite(case.difference) else 0.0 for case in overall.cases]
        colours = [_colour(case.difference, overall) for case in overall.cases]
        axes.bar(range(len(names)), differences, color=colours, label="per-case difference")
        axes.axhline(0.0, color="#333333", linewidth=0.8)
        words = CASE_WORDS.get(result.case_set, "cases")
        if overall.has_interval:
            d = overall.difference
            axes.axhspan(d.low, d.high, color="#333333", alpha=0.15, label=f"95% interval ({overall.method})")
            axes.axhline(d.value, color="#333333", linewidth=2, label=f"mean difference {d.value:+.4f}")
            axes.set_title(f"{overall.verdict}: new minus old on {overall.scored} {words}", fontsize=9)
            low, high = axes.get_ylim()
            axes.set_ylim(low, high + 0.6 * (high - low))  # room above the bars for the legend
            axes.legend(loc="upper left", fontsize="x-small")
        else:
            axes.set_title(f"too few {words} for a verdict: no interval", fontsize=9)
        axes.set_xticks(range(len(names)), names if len(names) <= 12 else [""] * len(names), fontsize=7)
        axes.set_ylabel(f"{overall.metric} difference", fontsize=8)
        self.plot.draw_idle()


def heading(result: VersionComparison) -> str:
    """Which versions, on which cases: ``ct-unet3d 1.0.0 → 1.0.0+ft1 on 3 test cases``."""
    count = len(result.overall.cases)
    words = CASE_WORDS.get(result.case_set, "cases")
    if count == 1:
        words = words.removesuffix("s")
    return f"{result.model} {result.old_version} → {result.new_version} on {count} {words}"


def verdict_text(result: VersionComparison) -> str:
    """The verdict, or why there is none: with fewer than the minimum scored cases there is no interval,
    only the per-case differences; else the mean difference, its interval and how it was made."""
    overall = result.overall
    words = CASE_WORDS.get(result.case_set, "cases")
    if overall.scored == 0:
        return f"{overall.metric}: no case has both scores"
    d = overall.difference
    change = (
        f"{overall.metric} {overall.old.value:.4f} → {overall.new.value:.4f}, mean difference {d.value:+.4f}"
    )
    tally = f"better on {overall.wins} of {overall.scored} {words}"
    if overall.has_interval:
        lines = [
            f"{overall.verdict}: {change}, 95% interval {d.low:+.4f} to {d.high:+.4f}; {tally}",
            f"interval: {overall.method}",
        ]
    else:
        listed = ", ".join(f"{value:+.4f}" for value in overall.differences())
        lines = [
            f"too few {words} for a verdict ({overall.scored} scored; a paired bootstrap interval needs "
            f"at least {MIN_CASES_FOR_INTERVAL}): {change}; {tally}",
            f"per-case differences: {listed}",
        ]
    lines += [
        f"{name}: {WORSE_FLAG} ({result.by_class[name].difference.value:+.4f})"
        for name in result.worse_classes
    ]
    if result.case_set == "validation":
        lines.append(VALIDATION_CAVEAT)
    return "\n".join(lines)


def _table(columns: tuple[str, ...]) -> QTableWidget:
    table = QTableWidget(0, len(columns))
    table.setHorizontalHeaderLabels(columns)
    table.setEditTriggers(QTableWidget.EditTrigger.NoEditTriggers)
    table.setSelectionBehavior(QTableWidget.SelectionBehavior.SelectRows)
    table.horizontalHeader().setStretchLastSection(True)
    return table


def _cells(table: QTableWidget) -> list[list[str]]:
    return [[table.item(r, c).text() for c in range(table.columnCount())] for r in range(table.rowCount())]


def _colour(difference: float, comparison: PairedComparison) -> str:
    """BETTER where the new version scored better on a case, WORSE where worse, NEUTRAL otherwise."""
    if not math.isfinite(difference) or difference == 0:
        return NEUTRAL
    gained = difference > 0 if comparison.higher_is_better else difference < 0
    return BETTER if gained else WORSE
