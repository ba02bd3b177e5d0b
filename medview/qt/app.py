"""medview's main window: a napari canvas inside medview's own window, with cases, panels and menus.

The window holds a :class:`napari.components.ViewerModel` shown by napari's ``QtViewer``; every
panel receives that model. Loading runs in a worker through the window's :class:`TaskBar`, and a
scan replaces the layers only once all its layers are built (:mod:`medview.qt.opening`); a file
that cannot be opened is named in an error dialog and leaves what was shown.
"""

from __future__ import annotations

import importlib
import logging
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
from napari.components import ViewerModel
from napari.layers import Image, Labels
from napari.qt import QtViewer, get_stylesheet
from qtpy.QtCore import QEvent, QObject, Qt
from qtpy.QtGui import QAction, QKeySequence
from qtpy.QtWidgets import (
    QComboBox,
    QDockWidget,
    QFileDialog,
    QLabel,
    QListWidget,
    QListWidgetItem,
    QMainWindow,
    QMessageBox,
    QToolBar,
    QWidget,
)

import medview
from medview.core.progress import Cancelled, CancelToken, ProgressCallback
from medview.core.scan import Scan, Window
from medview.demo import DemoCase, make_ct, make_radiograph, make_tile
from medview.qt import unsaved_guard
from medview.qt.annotation_files import FORMAT_TITLES, AnnotationFiles
from medview.qt.bridge import scan_from_layer
from medview.qt.opening import (
    PreparedLabels,
    PreparedScan,
    case_layers,
    check_drawable,
    lossy_notice,
    opening_error_text,
    replace_layers,
    scan_layers,
    seg_over,
)
from medview.qt.panel_wiring import connect_metrics_to_cases, connect_training_to_models
from medview.qt.panels import PANELS
from medview.qt.status import cursor_status
from medview.qt.tile_error_notice import TileErrorNotice
from medview.qt.viewer_actions import serve_napari_actions
from medview.qt.widgets.task_bar import TaskBar

_log = logging.getLogger(__name__)

DEMO_CASES: dict[str, Callable[[int], DemoCase]] = {
    "Demo CT (phantom)": make_ct,
    "Demo chest radiograph": make_radiograph,
    "Demo H&E tile": make_tile,
}


class MainWindow(QMainWindow):
    """The medview window. ``viewer`` is the napari model every panel works on."""

    def __init__(self, viewer: ViewerModel | None = None) -> None:
        super().__init__()
        self.setWindowTitle(f"medview {medview.__version__}")
        self.viewer = viewer or ViewerModel(title="medview")
        self.qt_viewer = QtViewer(self.viewer)
        self._withdraw_napari_actions = serve_napari_actions(self.viewer, self.qt_viewer)
        self.setCentralWidget(self.qt_viewer)
        self.addDockWidget(Qt.DockWidgetArea.LeftDockWidgetArea, self.qt_viewer.dockLayerControls)
        self.addDockWidget(Qt.DockWidgetArea.LeftDockWidgetArea, self.qt_viewer.dockLayerList)
        self.cases = self._make_case_list()
        self.task_bar = TaskBar()
        self.tile_errors = TileErrorNotice(
            lambda title, text: self.show_error(title, text),
            lambda text: self.statusBar().showMessage(text, 30_000),
        )
        self.cursor_label = QLabel("")
        self.statusBar().addWidget(self.cursor_label, 1)
        self.statusBar().addPermanentWidget(self.task_bar, 1)
        self.window_presets = QComboBox()
        self.window_presets.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToContents)
        self.window_presets.setToolTip("Window/level preset for the active image (W)")
        self.window_presets.activated.connect(self._apply_window_preset)
        self.panels: dict[str, QWidget] = {}
        self.panel_errors: dict[str, str] = {}
        self.files = AnnotationFiles(self)
        self.recovering = None
        self._closed = False
        self._make_menus_and_toolbar()
        self._add_panels()
        connect_metrics_to_cases(self)
        connect_training_to_models(self)
        self._connect_cases_panel()
        self.viewer.cursor.events.position.connect(self._update_cursor_status)
        self.viewer.layers.selection.events.active.connect(self._refresh_window_presets)
        self.viewer.layers.events.inserted.connect(self._refresh_canvas_notice)
        self.viewer.layers.events.removed.connect(self._refresh_canvas_notice)
        self.qt_viewer.installEventFilter(self)
        self.setAcceptDrops(True)
        self.setStyleSheet(get_stylesheet(self.viewer.theme))
        self.resize(1400, 900)

    # ----------------------------------------------------------------- opening data
    def open_demo(self, title: str, seed: int = 0) -> CancelToken | None:
        """Generate one of :data:`DEMO_CASES` in a worker and show it with its ground truth, once
        unsaved annotation work is settled (``None`` when the user cancels)."""
        return self.settle_unsaved(f"opening {title}", lambda: self._open_demo(title, seed))

    def _open_demo(self, title: str, seed: int) -> CancelToken:
        make = DEMO_CASES[title]

        def generate(progress: ProgressCallback, cancel: CancelToken) -> PreparedScan:
            progress(0.1, f"Generating {title}…")
            case = make(seed)
            progress(0.8, f"Preparing {title} for display…")
            return case_layers(case)

        return self.task_bar.start(
            generate,
            self._show_prepared,
            on_error=lambda error: self._opening_failed(title, error),
            description=f"Opening {title}",
        )

    def open_path(self, path: str | Path, series_uid: str | None = None) -> CancelToken | None:
        """Open a file or folder in a worker, once unsaved annotation work is settled (``None`` when the
        user cancels); a folder with several series asks which to show."""
        path = Path(path)
        return self.settle_unsaved(f"opening {path.name}", lambda: self._open_path(path, series_uid))

    def _open_path(self, path: Path, series_uid: str | None) -> CancelToken:
        from medview.io import list_series, open_scan

        layer = self.scan_layer
        shown = scan_from_layer(layer) if layer is not None else None

        def load(progress: ProgressCallback, cancel: CancelToken) -> PreparedScan | PreparedLabels | list:
            if series_uid is None and path.is_file():
                over = seg_over(path, shown)
                if over is not None:
                    return over
            if series_uid is None and path.is_dir():
                progress(0.05, f"Looking for series in {path.name}…")
                series = list_series(path)
                if len(series) > 1:
                    return series
            progress(0.2, f"Reading {path.name}…")
            scan = open_scan(path, series_uid=series_uid)
            progress(0.8, f"Preparing {path.name} for display…")
            return scan_layers(scan)

        def loaded(result: PreparedScan | PreparedLabels | list) -> None:
            if isinstance(result, PreparedScan):
                self._show_prepared(result)
                return
            if isinstance(result, PreparedLabels):
                self._add_prepared_labels(result, path)
                return
            from medview.qt.widgets.series_dialog import choose_series

            chosen = choose_series(self, result)
            if chosen is not None:
                self.open_path(path, series_uid=chosen)

        return self.task_bar.start(
            load,
            loaded,
            on_error=lambda error: self._opening_failed(path, error),
            description=f"Opening {path.name}",
        )

    def show_case(self, case: DemoCase) -> None:
        """Replace the layers with a demo case: scan, ground truth and boxes."""
        self._show_prepared(case_layers(case))

    def show_scan(self, scan: Scan) -> Image:
        """Replace the layers with ``scan`` and its attached label maps, or raise and keep what was shown.

        Its warnings go to the status line and a message box.
        """
        return self._show_prepared(scan_layers(scan))

    def show_error(self, title: str, text: str) -> None:
        """Tell the user that something failed, in a modal box (tests replace this method)."""
        QMessageBox.critical(self, title, text)

    # ----------------------------------------------------------------- unsaved work
    def settle_unsaved(self, action: str, proceed: Callable[[], Any]) -> Any:
        """Run ``proceed`` once no unsaved annotation would be dropped by ``action`` (see
        :func:`medview.qt.unsaved_guard.settle_unsaved`)."""
        return unsaved_guard.settle_unsaved(self, action, proceed)

    def offer_drafts_at_start(self) -> None:
        """Offer the drafts an earlier session left, at once (a crash, or "keep as draft")."""
        unsaved_guard.offer_drafts_at_start(self)

    # ----------------------------------------------------------------- viewing
    @property
    def scan_layer(self) -> Image | None:
        """The image layer of the open scan (the first medview image layer)."""
        for layer in self.viewer.layers:
            if isinstance(layer, Image) and scan_from_layer(layer) is not None:
                return layer
        return None

    def toggle_overlays(self) -> None:
        """Show or hide every labels layer (key O)."""
        overlays = [layer for layer in self.viewer.layers if isinstance(layer, Labels)]
        visible = not all(layer.visible for layer in overlays)
        for layer in overlays:
            layer.visible = visible

    def screenshot(self) -> np.ndarray:
        """What the canvas shows now, as an RGBA array."""
        return self.qt_viewer.screenshot(flash=False)

    def step_slice(self, step: int = 1) -> None:
        """Move the slice under view by ``step``, wrapping at the ends."""
        axis = self.viewer.dims.not_displayed[0] if self.viewer.dims.not_displayed else None
        if axis is None:
            return
        count = self.viewer.dims.nsteps[axis]
        self.viewer.dims.set_current_step(axis, (self.viewer.dims.current_step[axis] + step) % count)

    # ----------------------------------------------------------------- Qt plumbing
    def eventFilter(self, watched: QObject, event: QEvent) -> bool:  # noqa: N802 (Qt API)
        """Route files dropped on the canvas to :meth:`open_path` instead of napari's readers."""
        if watched is self.qt_viewer and event.type() == QEvent.Type.Drop and event.mimeData().hasUrls():
            urls = [url.toLocalFile() for url in event.mimeData().urls() if url.isLocalFile()]
            if urls:
                event.acceptProposedAction()
                if self.refuse_while_busy():
                    return True
                if event.modifiers() & Qt.KeyboardModifier.ShiftModifier:
                    self.files.open_segmentation(urls[0])  # Shift+drop: over the open scan
                else:
                    self.open_path(urls[0])
                return True
        return super().eventFilter(watched, event)

    def closeEvent(self, event: Any) -> None:  # noqa: N802 (Qt API)
        """Ask about unsaved annotation work, then cancel running work and close the panels and canvas,
        once (Qt may close twice)."""
        if not self._closed and not unsaved_guard.may_close(self):
            event.ignore()
            return
        if not self._closed:
            self._closed = True
            self._withdraw_napari_actions()
            self.task_bar.cancel()
            for panel in self.panels.values():
                panel.close()
            self.qt_viewer.close()
        super().closeEvent(event)

    def _connect_cases_panel(self) -> None:
        """A workspace case replaces the open scan like any file, after asking about unsaved work; the
        Annotate panel's Save outside a workspace offers every export format."""
        annotate = self.panels.get("Annotate")
        if annotate is not None:
            annotate.ask_export_path = self.files.ask_save_target
        browser = self.panels.get("Cases")
        if browser is None:
            return
        browser.before_switch = lambda action, proceed: self.settle_unsaved(action, proceed)
        browser.show_prepared = lambda prepared: self._show_prepared(prepared, from_file=False)

    def _make_case_list(self) -> QListWidget:
        cases = QListWidget()
        cases.setToolTip("Double-click a case to open it")
        for title in DEMO_CASES:
            item = QListWidgetItem(title)
            item.setData(Qt.ItemDataRole.UserRole, ("demo", title))
            cases.addItem(item)
        cases.itemActivated.connect(self._open_case_item)
        dock = QDockWidget("Scans", self)
        dock.setObjectName("Scans")
        dock.setWidget(cases)
        self.addDockWidget(Qt.DockWidgetArea.LeftDockWidgetArea, dock)
        return cases

    def _show_prepared(self, prepared: PreparedScan, from_file: bool = True) -> Image:
        """Swap in a scan's built layers (or raise, keeping what was shown), tell its warnings, then
        offer a draft left for it (``from_file``: not a workspace case, whose panel offers its own)."""
        scan = prepared.scan
        replace_layers(self.viewer, self.qt_viewer, prepared.layers)
        self.tile_errors.watch(scan)
        self._remember_case(scan)
        self._refresh_window_presets()
        self._select_scan_layer()
        if scan.warnings:
            text = "\n".join(scan.warnings)
            self.statusBar().showMessage(f"Warning: {scan.warnings[0]}", 30_000)
            QMessageBox.warning(self, f"{scan.name}: check this scan", text)
        annotate = self.panels.get("Annotate")
        recovering, self.recovering = self.recovering, None
        if annotate is not None and from_file:
            if recovering is not None and recovering[0].source == scan.source:
                annotate.drafts.recover_into_new(recovering[0], scan, recovering[1])
            else:
                annotate.drafts.offer_for_scan(scan)
        return prepared.layers[0]

    def _add_prepared_labels(self, prepared: PreparedLabels, path: Path) -> None:
        """Lay a segmentation over the open scan; its warnings are told like a scan's."""
        check_drawable(self.qt_viewer, prepared.layer)
        self.viewer.layers.append(prepared.layer)
        if prepared.warnings:
            self.statusBar().showMessage(f"Warning: {prepared.warnings[0]}", 30_000)
            QMessageBox.warning(self, f"{path.name}: check this segmentation", "\n".join(prepared.warnings))

    def _opening_failed(self, path: str | Path, error: BaseException) -> None:
        if isinstance(error, Cancelled):
            return
        text = opening_error_text(path, error)
        self.statusBar().showMessage(text, 30_000)
        self.show_error(f"Could not open {Path(path).name}", text)

    def refuse_while_busy(self) -> bool:
        """True (and say so) when a task is running, so that a new one cannot start."""
        if self.task_bar.busy:
            self.statusBar().showMessage("Wait for the current task to finish, or cancel it", 5000)
        return self.task_bar.busy

    def _refresh_canvas_notice(self, event: Any = None) -> None:
        """The canvas says so when the open scan's pixels were lossily compressed."""
        layer = self.scan_layer
        text = lossy_notice(scan_from_layer(layer) if layer is not None else None)
        notice = self.viewer.canvas.overlays.text
        notice.text, notice.visible = text, bool(text)

    def _open_case_item(self, item: QListWidgetItem) -> None:
        kind, value = item.data(Qt.ItemDataRole.UserRole)
        if self.refuse_while_busy():
            return
        if kind == "demo":
            self.open_demo(value)
        else:
            self.open_path(value)

    def _remember_case(self, scan: Scan) -> None:
        if scan.source is None:
            return
        for row in range(self.cases.count()):
            if self.cases.item(row).data(Qt.ItemDataRole.UserRole) == ("file", scan.source):
                return
        item = QListWidgetItem(scan.name or Path(scan.source).name)
        item.setData(Qt.ItemDataRole.UserRole, ("file", scan.source))
        item.setToolTip(scan.source)
        self.cases.addItem(item)

    def _make_menus_and_toolbar(self) -> None:
        file_menu = self.menuBar().addMenu("&File")
        self._action(file_menu, "&Open file…", self._ask_open_file, QKeySequence.StandardKey.Open)
        self._action(file_menu, "Open &folder (DICOM)…", self._ask_open_folder, "Ctrl+Shift+O")
        self._action(file_menu, "Open &segmentation…", self.files.ask_open_segmentation, "Ctrl+Shift+L")
        export_menu = file_menu.addMenu("&Export annotation")
        for fmt, (title, _, _) in FORMAT_TITLES.items():
            self._action(export_menu, f"{title}…", lambda checked=False, f=fmt: self.files.export(f))
        demo_menu = file_menu.addMenu("&Demo cases")
        for title in DEMO_CASES:
            self._action(demo_menu, title, lambda checked=False, t=title: self._ask_open_demo(t))
        self._action(file_menu, "New demo &workspace (to fine-tune)…", self._ask_demo_workspace)
        file_menu.addSeparator()
        self._action(file_menu, "&Quit", self.close, QKeySequence.StandardKey.Quit)
        view_menu = self.menuBar().addMenu("&View")
        self._action(view_menu, "Toggle &overlays", self.toggle_overlays, "O")
        self._action(view_menu, "Next slice", lambda: self.step_slice(1), "Ctrl+Down")
        self._action(view_menu, "Previous slice", lambda: self.step_slice(-1), "Ctrl+Up")
        self.panels_menu = self.menuBar().addMenu("&Panels")
        toolbar = QToolBar("Display")
        toolbar.setObjectName("Display")
        toolbar.addWidget(QLabel(" Window: "))
        toolbar.addWidget(self.window_presets)
        self.addToolBar(toolbar)

    def _action(self, menu: Any, text: str, slot: Callable, shortcut: Any = None) -> QAction:
        action = QAction(text, self)
        if shortcut is not None:
            action.setShortcut(QKeySequence(shortcut))
            action.setToolTip(f"{text.replace('&', '')} ({QKeySequence(shortcut).toString()})")
        action.triggered.connect(slot)
        menu.addAction(action)
        return action

    def _add_panels(self) -> None:
        areas = {"right": Qt.DockWidgetArea.RightDockWidgetArea, "left": Qt.DockWidgetArea.LeftDockWidgetArea}
        docks: list[QDockWidget] = []
        for title, target, area in PANELS:
            module_name, class_name = target.split(":")
            try:
                panel = getattr(importlib.import_module(module_name), class_name)(self.viewer)
            except Exception as error:  # a broken panel is reported, never fatal
                _log.exception("panel %s failed to load", title)
                self.panel_errors[title] = f"{type(error).__name__}: {error}"
                continue
            dock = QDockWidget(title, self)
            dock.setObjectName(f"panel:{title}")
            dock.setWidget(panel)
            self.addDockWidget(areas.get(area, Qt.DockWidgetArea.RightDockWidgetArea), dock)
            self.panels_menu.addAction(dock.toggleViewAction())
            self.panels[title] = panel
            docks.append(dock)
        for first, second in zip(docks, docks[1:], strict=False):
            if self.dockWidgetArea(first) == self.dockWidgetArea(second):
                self.tabifyDockWidget(first, second)
        if docks:
            docks[0].raise_()

    def raise_panel(self, panel: QWidget) -> None:
        """Bring the dock holding ``panel`` to the front of its tabs."""
        dock = panel.parentWidget()
        if isinstance(dock, QDockWidget):
            dock.show()
            dock.raise_()

    def create_demo_workspace(self, directory: str | Path) -> CancelToken:
        """Build a workspace of annotated demo CTs in a worker, then open it in the Cases and Train panels."""
        from medview.workspace.demo_workspace import make_demo_workspace

        def build(progress: ProgressCallback, cancel: CancelToken) -> Path:
            return make_demo_workspace(directory, progress=progress, cancel=cancel)

        def built(folder: Path) -> None:
            for title in ("Cases", "Train", "Models"):
                panel = self.panels.get(title)
                if panel is not None:
                    (panel.open_workspace if title == "Cases" else panel.set_workspace)(folder)
            if "Metrics" in self.panels:
                self.panels["Metrics"].versions.set_workspace(folder)
            if "Train" in self.panels:
                self.raise_panel(self.panels["Train"])

        return self.task_bar.start(build, built, description="Creating the demo workspace")

    def _ask_demo_workspace(self) -> None:
        path = QFileDialog.getExistingDirectory(self, "An empty folder for the demo workspace")
        if path:
            self.create_demo_workspace(path)

    def _ask_open_demo(self, title: str) -> None:
        if not self.refuse_while_busy():
            self.open_demo(title)

    def _ask_open_file(self) -> None:
        from medview.qt import open_dialog

        if self.refuse_while_busy():
            return
        chosen = open_dialog.choose_file(self, scan_open=self.scan_layer is not None)
        if chosen is None:
            return
        path, as_segmentation = chosen
        if as_segmentation:
            self.files.open_segmentation(path)
        else:
            self.open_path(path)

    def _ask_open_folder(self) -> None:
        if self.refuse_while_busy():
            return
        path = QFileDialog.getExistingDirectory(self, "Open a DICOM folder")
        if path:
            self.open_path(path)

    def _select_scan_layer(self) -> None:
        layer = self.scan_layer
        if layer is not None:
            self.viewer.layers.selection.active = layer

    def _update_cursor_status(self, event: Any = None) -> None:
        layer = self.scan_layer
        if layer is None:
            self.cursor_label.setText("")
            return
        self.cursor_label.setText(cursor_status(layer, self.viewer.cursor.position))

    def _refresh_window_presets(self, event: Any = None) -> None:
        from medview.core.windows import window_presets

        self.window_presets.clear()
        layer = self.scan_layer
        scan = scan_from_layer(layer) if layer is not None else None
        if scan is None or scan.rgb:
            self.window_presets.setEnabled(False)
            return
        self.window_presets.setEnabled(True)
        for window in window_presets(scan):
            self.window_presets.addItem(f"{window.name} ({window.center:g}/{window.width:g})", window)

    def _apply_window_preset(self, index: int) -> None:
        window: Window | None = self.window_presets.itemData(index)
        layer = self.scan_layer
        if window is not None and layer is not None:
            layer.contrast_limits = window.limits
