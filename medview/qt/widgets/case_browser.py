"""The case browser: a workspace's cases with their status; open one, open the next unlabelled one,
import a folder of scans, mark a case done, give the open case its class (one of an installed
classification model's classes: what that model fine-tunes on).

Opening a case loads its scan and newest annotation (or a new empty one) in a worker; they replace
the open scan's layers (in the window, after it asked about unsaved work). The labels layer carries
``{"workspace", "case_id"}`` under
:data:`~medview.qt.widgets.annotation_panel.CASE_KEY`, so the annotation panel saves new
versions into the workspace and autosaves drafts into its ``drafts`` folder.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
from napari.components import ViewerModel
from napari.layers import Layer
from qtpy.QtCore import Qt
from qtpy.QtWidgets import (
    QAbstractItemView,
    QComboBox,
    QFileDialog,
    QGridLayout,
    QLabel,
    QMessageBox,
    QPushButton,
    QTableWidget,
    QTableWidgetItem,
    QWidget,
)

from medview.core.labels import LabelTable
from medview.core.progress import Cancelled, CancelToken, ProgressCallback
from medview.core.provenance import Provenance
from medview.core.scan import LabelMap, Scan
from medview.io.writers import label_table_path
from medview.models.registry import Registry
from medview.qt.bridge import label_map_layer_data
from medview.qt.opening import PreparedScan, opening_error_text, scan_layers
from medview.qt.widgets.annotation_panel import CASE_KEY
from medview.qt.widgets.task_bar import TaskBar
from medview.workspace import Case, Workspace

_STATUS_TEXT = {"unlabelled": "unlabelled", "in_progress": "in progress", "done": "done"}


class CaseBrowser(QWidget):
    """Lists the cases of one workspace; see the module docstring."""

    def __init__(
        self, viewer: ViewerModel, parent: QWidget | None = None, registry: Registry | None = None
    ) -> None:
        super().__init__(parent)
        self.viewer = viewer
        self.directory: Path | None = None
        self.current: Case | None = None
        self._cases: list[Case] = []
        self.before_switch: Callable[[str, Callable[[], Any]], Any] = lambda action, proceed: proceed()
        """Called with what is about to happen and how to do it; the window asks about unsaved work."""
        self.show_prepared: Callable[[PreparedScan], Any] = self._replace_layers
        """Shows a case's layers instead of the open scan's; the window swaps them in atomically."""
        self._title = QLabel("No workspace open")
        self._table = QTableWidget(0, 3)
        self._table.setHorizontalHeaderLabels(["Case", "Status", "Versions"])
        self._table.verticalHeader().setVisible(False)
        self._table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self._table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self._table.setToolTip("Double-click a case to open it")
        self._table.cellDoubleClicked.connect(lambda row, column: self.open_case(self._cases[row]))
        self.task_bar = TaskBar(self)
        buttons = (
            ("Open workspace…", "Open a workspace folder", self._choose_workspace),
            ("Next unlabelled", "Open the first case nobody has started", self.open_next_unlabelled),
            ("Import folder…", "Copy every scan in a folder into the workspace", self._choose_import),
            ("Mark done", "Mark the open case as done", lambda: self.set_status("done")),
        )
        layout = QGridLayout(self)
        layout.addWidget(self._title, 0, 0, 1, 2)
        for index, (text, tip, slot) in enumerate(buttons):
            button = QPushButton(text)
            button.setToolTip(tip)
            button.clicked.connect(slot)
            layout.addWidget(button, 1 + index // 2, index % 2)
        self._classes = QComboBox()
        self._classes.setToolTip("Classes of the installed classification models")
        self._class_tables: dict[str, LabelTable] = {}
        for plugin in (Registry.discover() if registry is None else registry).plugins:
            if plugin.info.task == "classification":
                self._class_tables[plugin.info.name] = plugin.info.labels
                for label in plugin.info.labels:
                    self._classes.addItem(
                        f"{label.name} ({plugin.info.name})", (plugin.info.name, label.name)
                    )
        set_class = QPushButton("Set class of case")
        set_class.setToolTip("Store this class for the whole open case and mark it done")
        set_class.clicked.connect(lambda: self.set_case_class(*self._classes.currentData()))
        set_class.setEnabled(self._classes.count() > 0)
        layout.addWidget(self._classes, 3, 0)
        layout.addWidget(set_class, 3, 1)
        layout.addWidget(self._table, 4, 0, 1, 2)
        layout.addWidget(self.task_bar, 5, 0, 1, 2)

    @property
    def rows(self) -> list[tuple[str, str, str]]:
        """What the table shows: (case, status, versions) per row."""
        return [
            tuple(self._table.item(row, column).text() for column in range(3))
            for row in range(self._table.rowCount())
        ]

    def open_workspace(self, directory: str | Path) -> None:
        """Show the cases of the workspace in ``directory``."""
        with Workspace.open(directory):
            pass
        self.directory = Path(directory)
        self._title.setText(f"Workspace: {self.directory}")
        self.refresh()

    def refresh(self) -> None:
        """Re-read the cases and their status from the index (other processes may have written)."""
        if self.directory is None:
            return
        with Workspace.open(self.directory) as workspace:
            self._cases = workspace.cases()
            versions = [len(workspace.annotations(case.id, "labels")) for case in self._cases]
        self._table.setRowCount(0)
        for case, count in zip(self._cases, versions, strict=True):
            row = self._table.rowCount()
            self._table.insertRow(row)
            for column, text in enumerate((case.id, _STATUS_TEXT[case.status], str(count))):
                item = QTableWidgetItem(text)
                if case.status == "done":
                    item.setForeground(Qt.GlobalColor.darkGreen)
                self._table.setItem(row, column, item)

    def open_next_unlabelled(self) -> None:
        if self.directory is None:
            return
        with Workspace.open(self.directory) as workspace:
            case = workspace.next_unlabelled()
        if case is None:
            self._title.setText("Every case has been started.")
            return
        self.open_case(case)

    def open_case(self, case: Case) -> None:
        """Load the case's scan and newest annotation in a worker, then show them instead of the open
        scan, once unsaved work is settled."""
        self.before_switch(f"opening case {case.id}", lambda: self._load(case))

    def _load(self, case: Case) -> None:
        directory = self.directory
        self.task_bar.start(
            lambda progress, cancel: _case_layers(directory, case, progress, cancel),
            lambda prepared: self._show_case(case, prepared),
            on_error=lambda error: self._opening_failed(case, error),
            description=f"Opening {case.id}",
        )

    def _opening_failed(self, case: Case, error: BaseException) -> None:
        """A case that cannot be opened is told in a dialog naming its file; what was shown stays."""
        if not isinstance(error, Cancelled):
            QMessageBox.critical(self, f"Could not open case {case.id}", opening_error_text(case.path, error))

    def import_folder(self, folder: str | Path) -> None:
        """Add every scan in ``folder`` to the workspace (in a worker)."""
        directory = self.directory

        def run(progress: ProgressCallback, cancel: CancelToken) -> list[Case]:
            with Workspace.open(directory) as workspace:
                return workspace.import_folder(folder, progress, cancel)

        self.task_bar.start(run, lambda added: self.refresh(), description=f"Importing {Path(folder).name}")

    def set_status(self, status: str) -> None:
        if self.directory is None or self.current is None:
            return
        with Workspace.open(self.directory) as workspace:
            workspace.set_status(self.current.id, status)
        self.refresh()

    def set_case_class(self, model: str, class_name: str) -> None:
        """Store ``class_name`` (a class of classification model ``model``) as the open case's class, a
        new ``class`` version drawn by the user, and mark the case done: a class covers the whole case."""
        if self.directory is None or self.current is None:
            self._title.setText("Open a case first, then set its class.")
            return
        with Workspace.open(self.directory) as workspace:
            workspace.save_class(self.current.id, class_name, self._class_tables[model], Provenance.drawn())
            workspace.set_status(self.current.id, "done")
        self._title.setText(f"Case {self.current.id}: class {class_name!r} (done)")
        self.refresh()

    def _show_case(self, case: Case, prepared: PreparedScan) -> None:
        self.show_prepared(prepared)
        self.viewer.layers.selection.active = prepared.layers[-1]
        self.current = case
        self._title.setText(f"Case {case.id} ({_STATUS_TEXT[case.status]})")
        self.refresh()

    def _replace_layers(self, prepared: PreparedScan) -> None:
        """Without a window: the case's layers replace every layer."""
        self.viewer.layers.clear()
        for layer in prepared.layers:
            self.viewer.layers.append(layer)

    def _choose_workspace(self) -> None:
        folder = QFileDialog.getExistingDirectory(self, "Open workspace")
        if folder:
            self.open_workspace(folder)

    def _choose_import(self) -> None:
        if self.directory is None:
            return
        folder = QFileDialog.getExistingDirectory(self, "Import a folder of scans")
        if folder:
            self.import_folder(folder)


def _case_layers(
    directory: Path, case: Case, progress: ProgressCallback, cancel: CancelToken
) -> PreparedScan:
    """The case's scan and annotation as layers; the annotation's layer saves into the workspace."""
    scan, label_map = _load_case(directory, case, progress, cancel)
    prepared = scan_layers(scan)
    data, kwargs, _ = label_map_layer_data(label_map, name=f"{case.id} annotation")
    kwargs["metadata"][CASE_KEY] = {"workspace": str(directory), "case_id": case.id}
    prepared.layers.append(Layer.create(data, kwargs, "labels"))
    return prepared


def _load_case(
    directory: Path, case: Case, progress: ProgressCallback, cancel: CancelToken
) -> tuple[Scan, LabelMap]:
    """The case's scan and its newest annotation, or an empty one with the workspace's last label table."""
    from medview.annotations.nifti import load_nifti
    from medview.io.open import open_scan

    progress(0.0, f"reading {case.path.name}")
    scan = open_scan(case.path)
    cancel.raise_if_cancelled()
    progress(0.7, "reading the annotation")
    with Workspace.open(directory) as workspace:
        versions = workspace.annotations(case.id, "labels")
        if versions:
            return scan, load_nifti(versions[-1].path, scan)
        labels = _latest_label_table(workspace)
    empty = np.zeros(scan.spatial_shape, dtype=np.uint8)
    return scan, LabelMap(empty, scan.geometry, labels, Provenance.drawn(derived_from=str(case.path)))


def _latest_label_table(workspace: Workspace) -> LabelTable:
    """The label table of the newest annotation in the workspace, so every case uses the same classes."""
    newest = max(
        (version for case in workspace.cases() for version in workspace.annotations(case.id, "labels")),
        key=lambda version: version.created,
        default=None,
    )
    if newest is None or not label_table_path(newest.path).exists():
        return LabelTable()
    return LabelTable.from_dict(
        json.loads(label_table_path(newest.path).read_text(encoding="utf-8"))["labels"]
    )
