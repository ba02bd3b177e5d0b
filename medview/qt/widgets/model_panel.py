"""The model panel: run a model plugin that fits the active scan and show what it predicts as layers.

Segmentations become labels layers with the plugin's label table, detections shapes layers with
score text, classifications probabilities in the panel, Grad-CAM saliency a translucent image. Every
result layer is named ``<model> <version>``; running again adds another layer, keeping both.

Each fine-tuned version of a listed segmentation plugin in the current workspace (that of the last
opened case, or the one given to :meth:`ModelPanel.set_workspace`) is listed as its own entry, so old
and new versions can be run side by side and compared in the metrics panel.

Models trained on another modality are listed after the fitting ones, marked as such. Before a run,
what :func:`~medview.models.api.input_concerns` finds is put to the user (run anyway, or enter the
pixel size to assume for a scan without one, or cancel), and a TorchScript model is loaded only
once the user trusts its file: asked once per file path and content hash for the session.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from napari.components import ViewerModel
from qtpy.QtCore import Qt
from qtpy.QtWidgets import (
    QInputDialog,
    QLabel,
    QListWidget,
    QListWidgetItem,
    QMessageBox,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from medview.core.errors import InputError
from medview.core.scan import Scan
from medview.models.api import (
    InputConcern,
    ModelInfo,
    ModelPlugin,
    Prediction,
    input_concerns,
    parse_spacing,
    unit_text,
)
from medview.models.network_plugin import NetworkPlugin
from medview.models.registry import Registry, predict_safely
from medview.models.torchscript import TorchScriptPlugin
from medview.qt.bridge import add_boxes, add_label_map, geometry_kwargs, scan_from_layer
from medview.qt.widgets.annotation_panel import CASE_KEY
from medview.qt.widgets.task_bar import TaskBar
from medview.training.versions import ModelVersion, list_versions, version_plugin

_SALIENCY_OPACITY = 0.45
RUN, ASSUME, CANCEL = "run", "assume", "cancel"
"""The answers to :meth:`ModelPanel.ask_about_concerns`."""


class ModelPanel(QWidget):
    """Lists the plugins fitting the active scan, their fine-tuned versions in the workspace, and broken
    plugins with their error; runs one."""

    def __init__(self, viewer: ViewerModel, parent: QWidget | None = None, registry: Registry | None = None):
        super().__init__(parent)
        self.viewer = viewer
        self.registry = Registry.discover() if registry is None else registry
        self.workspace: Path | None = None
        self._fine_tuned: dict[str, tuple[str, ModelVersion]] = {}  # entry key -> base plugin, version
        self._version_plugins: dict[Path, ModelPlugin] = {}  # by version folder: weights load once
        self._trusted_files: set[tuple[Path, str]] = set()  # (TorchScript path, SHA-256) trusted this session
        self._scan_label = QLabel()
        self._models = QListWidget()
        self._models.itemSelectionChanged.connect(self._update_run_button)
        self._run_button = QPushButton("Run")
        self._run_button.setToolTip("Run the selected model on the active scan")
        self._run_button.clicked.connect(self.run_selected)
        self.task_bar = TaskBar()
        self._result = QLabel()
        self._result.setWordWrap(True)
        self._result.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        layout = QVBoxLayout(self)
        for widget in (self._scan_label, self._models, self._run_button, self.task_bar, self._result):
            layout.addWidget(widget)
        layout.addStretch(1)
        self.task_bar.finished.connect(lambda outcome: self._update_run_button())
        viewer.layers.selection.events.active.connect(self.refresh)
        viewer.layers.events.inserted.connect(self._workspace_from_layer)
        viewer.layers.events.inserted.connect(self.refresh)
        viewer.layers.events.removed.connect(self.refresh)
        self.refresh()

    @property
    def listed(self) -> list[str]:
        """The rows the user sees, top to bottom."""
        return [self._models.item(row).text() for row in range(self._models.count())]

    @property
    def result_text(self) -> str:
        return self._result.text()

    def set_workspace(self, directory: str | Path | None) -> None:
        """List the fine-tuned versions published in the workspace at ``directory`` (``None``: none)."""
        self.workspace = None if directory is None else Path(directory)
        self.refresh()

    def select(self, name: str) -> None:
        """Select the plugin called ``name`` (a fine-tuned version: ``<model> <version>``) in the list."""
        for row in range(self._models.count()):
            item = self._models.item(row)
            if item.data(Qt.ItemDataRole.UserRole) == name:
                self._models.setCurrentItem(item)
                return
        raise KeyError(name)

    def refresh(self, event: Any = None) -> None:
        """List the plugins that fit the active scan, then those trained on another modality (marked),
        each followed by its fine-tuned versions, then the broken plugins."""
        scan = self.active_scan()
        selected = self._selected_name()
        self._models.clear()
        self._fine_tuned = {}
        self._scan_label.setText(
            f"Scan: {scan.name or 'unnamed'} ({scan.modality})" if scan else "No scan open"
        )
        fitting = self.registry.fitting(scan) if scan is not None else []
        other = self.registry.other_modality(scan) if scan is not None else []
        for plugin in fitting + other:
            info = plugin.info
            item = QListWidgetItem(f"{info.title} — {info.task}{_marks(plugin, plugin in other)}")
            item.setData(Qt.ItemDataRole.UserRole, info.name)
            item.setToolTip(info.description)
            self._models.addItem(item)
            if info.name == selected:
                self._models.setCurrentItem(item)
            for version in self._versions_of(plugin):
                key = f"{info.name} {version.version}"
                self._fine_tuned[key] = (info.name, version)
                item = QListWidgetItem(f"{key} — {info.task} (fine-tuned)")
                item.setData(Qt.ItemDataRole.UserRole, key)
                item.setToolTip(f"{info.title} fine-tuned in this workspace: {version.folder}")
                self._models.addItem(item)
                if key == selected:
                    self._models.setCurrentItem(item)
        for broken in self.registry.broken:
            item = QListWidgetItem(f"{broken.name} — broken: {broken.error}")
            item.setFlags(Qt.ItemFlag.NoItemFlags)
            item.setToolTip(broken.source)
            self._models.addItem(item)
        self._update_run_button()

    def active_scan(self) -> Scan | None:
        """The scan of the active layer, else of the topmost medview image layer."""
        active = self.viewer.layers.selection.active
        scan = scan_from_layer(active) if active is not None else None
        if scan is not None:
            return scan
        return next((s for s in map(scan_from_layer, reversed(self.viewer.layers)) if s is not None), None)

    def run_selected(self) -> None:
        """Run the selected plugin on the active scan in a worker, once the user has settled its input
        concerns and trusted its file (TorchScript); nothing runs when the user cancels."""
        plugin, scan = self._selected_plugin(), self.active_scan()
        if plugin is None or scan is None or self.task_bar.busy:
            return
        settled = self._settle_concerns(plugin.info, scan)
        if settled is None or not self._trust_given(plugin):
            return
        any_modality, assumed = settled
        self._run_button.setEnabled(False)
        self.task_bar.start(
            lambda progress, cancel: predict_safely(
                plugin, scan, progress, cancel, any_modality=any_modality, assumed_spacing=assumed
            ),
            self.show_prediction,
            description=f"{plugin.info.title} on {scan.name or 'scan'}",
        )

    def ask_about_concerns(self, scan: Scan, info: ModelInfo, concerns: list[InputConcern]) -> str:
        """Put ``concerns`` to the user: :data:`RUN` (run anyway), :data:`ASSUME` (enter a pixel size
        to assume, offered instead of running anyway when the pixel size is unknown) or :data:`CANCEL`."""
        unknown_size = any(concern.kind == "spacing" for concern in concerns)
        box = QMessageBox(self)
        box.setIcon(QMessageBox.Icon.Warning)
        box.setWindowTitle("Check before running")
        box.setText(
            f"{info.title} may give wrong answers on {scan.name or 'this scan'}:\n\n"
            + "\n".join(f"• {concern}" for concern in concerns)
        )
        if unknown_size:
            box.setInformativeText(
                "The model needs the physical pixel size. Enter the size to assume (it is recorded with "
                "the result), or cancel."
            )
            go = box.addButton("Enter pixel size…", QMessageBox.ButtonRole.AcceptRole)
        else:
            go = box.addButton("Run anyway", QMessageBox.ButtonRole.AcceptRole)
        cancel = box.addButton(QMessageBox.StandardButton.Cancel)
        box.setDefaultButton(cancel)
        box.exec()
        if box.clickedButton() is not go:
            return CANCEL
        return ASSUME if unknown_size else RUN

    def ask_spacing(self, scan: Scan, info: ModelInfo) -> tuple[float, ...] | None:
        """The pixel size (array order, in the model's unit) the user enters for ``scan``; ``None``
        when cancelled or not a pixel size (the user is told why)."""
        ndim, unit = scan.geometry.ndim, unit_text(info.input.spacing_units)
        axes = "z, y, x" if ndim == 3 else "y, x"
        text, ok = QInputDialog.getText(
            self,
            "Assumed pixel size",
            f"Pixel size of {scan.name or 'this scan'} in {unit}: one number, or {ndim} separated by "
            f"commas in array order ({axes})",
        )
        if not ok:
            return None
        try:
            return parse_spacing(text, ndim)
        except InputError as error:
            QMessageBox.warning(self, "Not a pixel size", str(error))
            return None

    def confirm_trust(self, plugin: TorchScriptPlugin, sha256: str) -> bool:
        """Ask whether to load the TorchScript file of ``plugin`` (which runs code stored in it)."""
        answer = QMessageBox.question(
            self,
            "Run a TorchScript model?",
            f"{plugin.info.title} is the TorchScript file\n{plugin.model_path}\n(SHA-256 {sha256[:16]}…)"
            "\n\nA TorchScript file runs code stored in it. Load and run it only if you trust its source.",
            QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.No,
            QMessageBox.StandardButton.No,
        )
        return answer == QMessageBox.StandardButton.Yes

    def show_prediction(self, prediction: Prediction) -> None:
        """Add the prediction's layers (and probabilities to the panel)."""
        title = prediction.info.title
        if prediction.label_map is not None:
            add_label_map(self.viewer, prediction.label_map, name=title)
        if prediction.boxes is not None:
            add_boxes(self.viewer, prediction.boxes, prediction.info.labels, prediction.geometry, name=title)
        if prediction.probabilities is not None:
            ranked = sorted(prediction.probabilities_by_class().items(), key=lambda item: -item[1])
            lines = [f"{name}: {p:.2f}" for name, p in ranked] + prediction.notes
            self._result.setText(f"{title}:\n" + "\n".join(lines))
        elif prediction.notes:
            self._result.setText(f"{title}:\n" + "\n".join(prediction.notes))
        if prediction.saliency is not None:
            self.viewer.add_image(
                prediction.saliency,
                name=f"{title} saliency",
                colormap="inferno",
                opacity=_SALIENCY_OPACITY,
                blending="additive",
                contrast_limits=(0.0, 1.0),
                **geometry_kwargs(prediction.geometry),
            )

    def _trust_given(self, plugin: ModelPlugin) -> bool:
        """True when ``plugin`` may be loaded: not TorchScript, already trusted, its file (path and
        content) trusted earlier this session, or the user trusts it now."""
        if not isinstance(plugin, TorchScriptPlugin) or not plugin.requires_trust:
            return True
        try:
            sha256 = plugin.file_sha256()
        except InputError as error:
            QMessageBox.warning(self, "Cannot read the model", str(error))
            return False
        key = (plugin.model_path.resolve(), sha256)
        if key not in self._trusted_files:
            if not self.confirm_trust(plugin, sha256):
                return False
            self._trusted_files.add(key)
        plugin.trust(sha256)
        return True

    def _settle_concerns(self, info: ModelInfo, scan: Scan) -> tuple[bool, tuple[float, ...] | None] | None:
        """``(any_modality, assumed_spacing)`` to run with, or ``None`` when the user cancels."""
        concerns = input_concerns(info, scan) if info.takes(scan) else []
        if not concerns:
            return False, None
        answer = self.ask_about_concerns(scan, info, concerns)
        if answer == CANCEL:
            return None
        if answer == ASSUME:
            spacing = self.ask_spacing(scan, info)
            return None if spacing is None else (True, spacing)
        return True, None

    def _selected_name(self) -> str | None:
        item = self._models.currentItem()
        return None if item is None else item.data(Qt.ItemDataRole.UserRole)

    def _selected_plugin(self) -> ModelPlugin | None:
        name = self._selected_name()
        if name is None:
            return None
        if name not in self._fine_tuned:
            return self.registry.get(name)
        base, version = self._fine_tuned[name]
        if version.folder not in self._version_plugins:
            self._version_plugins[version.folder] = version_plugin(self.registry.get(base), version)
        return self._version_plugins[version.folder]

    def _versions_of(self, plugin: ModelPlugin) -> list[ModelVersion]:
        """The workspace's fine-tuned versions of ``plugin``; only network plugins have any."""
        if self.workspace is None or not isinstance(plugin, NetworkPlugin):
            return []
        try:
            return list_versions(self.workspace, plugin.info.name)
        except (OSError, ValueError):  # an unreadable models folder hides its versions, never the panel
            return []

    def _workspace_from_layer(self, event: Any) -> None:
        """A case opened from a workspace makes that workspace the current one."""
        case = event.value.metadata.get(CASE_KEY)
        if case:
            self.workspace = Path(case["workspace"])

    def _update_run_button(self) -> None:
        self._run_button.setEnabled(self._selected_name() is not None and not self.task_bar.busy)


def _marks(plugin: ModelPlugin, other_modality: bool) -> str:
    """What the list says about a model beyond its task: another modality, a file that needs trust."""
    marks = []
    if other_modality:
        marks.append(f"trained on {'/'.join(plugin.info.modalities)}")
    if isinstance(plugin, TorchScriptPlugin) and plugin.requires_trust:
        marks.append("TorchScript, asks before loading")
    return f" ({', '.join(marks)})" if marks else ""
