"""The model panel: run a model plugin that fits the active scan and show what it predicts as layers.

Segmentations become labels layers with the plugin's label table, detections shapes layers with
score text, classifications probabilities in the panel, Grad-CAM saliency a translucent image. Every
result layer is named ``<model> <version>``; running again adds another layer, keeping both.

Each fine-tuned version of a listed segmentation plugin in the current workspace (that of the last
opened case, or the one given to :meth:`ModelPanel.set_workspace`) is listed as its own entry, so old
and new versions can be run side by side and compared in the metrics panel.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from napari.components import ViewerModel
from qtpy.QtCore import Qt
from qtpy.QtWidgets import QLabel, QListWidget, QListWidgetItem, QPushButton, QVBoxLayout, QWidget

from medview.core.scan import Scan
from medview.models.api import ModelPlugin, Prediction
from medview.models.network_plugin import NetworkPlugin
from medview.models.registry import Registry, predict_safely
from medview.qt.bridge import add_boxes, add_label_map, geometry_kwargs, scan_from_layer
from medview.qt.widgets.annotation_panel import CASE_KEY
from medview.qt.widgets.task_bar import TaskBar
from medview.training.runner import version_plugin
from medview.training.versions import ModelVersion, list_versions

_SALIENCY_OPACITY = 0.45


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
        """List the plugins that fit the active scan, each followed by its fine-tuned versions, then the
        broken plugins."""
        scan = self.active_scan()
        selected = self._selected_name()
        self._models.clear()
        self._fine_tuned = {}
        self._scan_label.setText(
            f"Scan: {scan.name or 'unnamed'} ({scan.modality})" if scan else "No scan open"
        )
        for plugin in self.registry.fitting(scan) if scan is not None else []:
            info = plugin.info
            item = QListWidgetItem(f"{info.title} — {info.task}")
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
        """Run the selected plugin on the active scan in a worker."""
        plugin, scan = self._selected_plugin(), self.active_scan()
        if plugin is None or scan is None or self.task_bar.busy:
            return
        self._run_button.setEnabled(False)
        self.task_bar.start(
            lambda progress, cancel: predict_safely(plugin, scan, progress, cancel),
            self.show_prediction,
            description=f"{plugin.info.title} on {scan.name or 'scan'}",
        )

    def show_prediction(self, prediction: Prediction) -> None:
        """Add the prediction's layers (and probabilities to the panel)."""
        title = prediction.info.title
        if prediction.label_map is not None:
            add_label_map(self.viewer, prediction.label_map, name=title)
        if prediction.boxes is not None:
            add_boxes(self.viewer, prediction.boxes, prediction.info.labels, prediction.geometry, name=title)
        if prediction.probabilities is not None:
            ranked = sorted(prediction.probabilities_by_class().items(), key=lambda item: -item[1])
            self._result.setText(f"{title}:\n" + "\n".join(f"{name}: {p:.2f}" for name, p in ranked))
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
