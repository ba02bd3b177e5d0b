"""The annotation panel: label table, brush/fill/erase, interpolation, clean-up, undo, save, drafts.

It works on a napari Labels layer whose data *is* the label map's array, so napari's own brush
paints straight into the annotation. Every napari paint event is converted into the core
:class:`~medview.annotations.history.History` (changed voxels only) and napari's own history is
emptied, so there is one undo stack whose memory grows with the edited region. The panel's own
tools run :class:`~medview.annotations.editor.AnnotationEditor`; the panel only wires.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
from napari.components import ViewerModel
from napari.layers import Labels, Points
from qtpy.QtCore import QStandardPaths, Qt, QTimer, Signal
from qtpy.QtGui import QColor, QKeySequence, QShortcut
from qtpy.QtWidgets import (
    QCheckBox,
    QColorDialog,
    QComboBox,
    QDoubleSpinBox,
    QFileDialog,
    QFormLayout,
    QGridLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QScrollArea,
    QSizePolicy,
    QSpinBox,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from medview.annotations import tools
from medview.annotations.autosave import Autosaver, Draft, discard, find_drafts, recover
from medview.annotations.editor import AnnotationEditor
from medview.annotations.history import edit_from_voxels
from medview.annotations.nifti import save_nifti
from medview.core.boxes import Box
from medview.core.labels import PRESET_NAMES, LabelClass, LabelTable, preset
from medview.core.progress import CancelToken, ProgressCallback
from medview.core.scan import LabelMap, Scan
from medview.qt.autosave_driver import AutosaveDriver
from medview.qt.bridge import (
    LABEL_MAP_KEY,
    add_boxes,
    add_label_map,
    boxes_from_layer,
    label_colormap,
    label_map_from_layer,
    scan_from_layer,
)
from medview.qt.widgets.task_bar import TaskBar
from medview.workspace import Workspace

CASE_KEY = "medview_case"
"""Labels-layer metadata set by the case browser: ``{"workspace": folder, "case_id": id}``."""

# A scan of unknown pixel size is painted in pixels: its unit spacing is no millimetre.
_RADIUS_UNITS = {"mm": "mm", "um": "µm", "pixel": "px"}
_RADIUS_WORDS = {"mm": "millimetres", "µm": "microns", "px": "pixels"}
SHORTCUTS = {
    "paint": "P",
    "erase": "E",
    "fill": "F",
    "pan_zoom": "N",
    "interpolate": "I",
    "undo": "Ctrl+Z",
    "redo": "Ctrl+Shift+Z",
    "save": "Ctrl+S",
    "boxes": "B",
}


class AnnotationPanel(QWidget):
    """Edit the active labels layer's annotation; see the module docstring.

    Signals:
        saved_to_workspace(str, str): workspace folder and case id, after a new version is saved there.
    """

    saved_to_workspace = Signal(str, str)

    def __init__(self, viewer: ViewerModel, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.viewer = viewer
        self.layer: Labels | None = None
        self.editor: AnnotationEditor | None = None
        self.autosave: AutosaveDriver | None = None
        self.draft: Draft | None = None
        self._saved_revision: int | None = None
        self._build()
        viewer.layers.selection.events.active.connect(self._on_active_layer)
        self._on_active_layer()

    # what the user sees

    @property
    def status(self) -> str:
        return self._status.text()

    @property
    def intensity_range(self) -> tools.IntensityRange | None:
        if not self._limit.isChecked():
            return None
        return (self._low.value(), self._high.value())

    # actions

    def attach(self, layer: Labels | None) -> None:
        """Edit ``layer`` (a labels layer); ``None`` detaches."""
        if layer is self.layer:
            return
        self._detach()
        self.layer = layer
        if layer is None:
            self._target.setText("No annotation: select a labels layer or press New annotation")
            return
        label_map = label_map_from_layer(layer)
        if label_map.array is not layer.data:
            self._say("This labels layer is not an in-memory array; it cannot be edited here.", error=True)
            self.layer = None
            return
        layer.metadata[LABEL_MAP_KEY] = label_map
        scan = self._scan_for(label_map)
        self.editor = AnnotationEditor(label_map, scan)
        self._saved_revision = self.editor.revision
        self.editor.add_listener(lambda region: layer.refresh())
        self.editor.add_listener(lambda region: self._update_undo_buttons())
        layer.events.paint.connect(self._on_napari_paint)
        case = self._case_of(layer)
        autosaver = Autosaver(self.editor, case[0], case[1], source=None if scan is None else scan.source)
        self.autosave = AutosaveDriver(autosaver, parent=self)
        self._target.setText(f"Editing: {layer.name} ({label_map.provenance.source})")
        self._show_table(label_map.labels)
        self._set_brush()
        self._offer_draft(case[0], case[1])
        self._update_undo_buttons()

    def unsaved_case(self) -> tuple[str, str] | None:
        """``(workspace, case id)`` of the edited workspace case when it has edits not yet saved as a
        version (drafts do not count), else ``None``."""
        if self.editor is None or self.layer is None or CASE_KEY not in self.layer.metadata:
            return None
        if self.editor.revision == self._saved_revision:
            return None
        case = self.layer.metadata[CASE_KEY]
        return str(case["workspace"]), str(case["case_id"])

    def new_annotation(self) -> Labels | None:
        """Add an empty annotation for the selected scan, with the chosen preset's label table."""
        scan = self._active_scan()
        if scan is None:
            self._say("Select a scan layer first.")
            return None
        shape = scan.spatial_shape
        label_map = LabelMap(
            np.zeros(shape, dtype=np.uint8), scan.geometry, preset(self._preset.currentText())
        )
        layer = add_label_map(self.viewer, label_map, name=f"{scan.name or 'scan'} annotation")
        self.viewer.layers.selection.active = layer
        return layer

    def set_mode(self, mode: str) -> None:
        """napari's labels mode: ``paint``, ``erase``, ``fill`` or ``pan_zoom``."""
        if self.layer is not None:
            self.layer.mode = mode

    def undo(self) -> None:
        if self.editor is not None:
            self.editor.undo()

    def redo(self) -> None:
        if self.editor is not None:
            self.editor.redo()

    def interpolate(self) -> None:
        """Fill the slices between annotated slices of the selected label, along the slicing axis (worker)."""
        if self.editor is None or self.task_bar.busy:
            return
        editor, axis, value = self.editor, self._slicing_axis(), self.layer.selected_label
        self.task_bar.start(
            lambda progress, cancel: editor.interpolation(value, axis),
            lambda change: self._apply(
                editor, change, "interpolate", "Interpolated", "Nothing to interpolate: annotate two slices."
            ),
            description="Interpolating",
        )

    def remove_islands(self) -> None:
        """Erase connected pieces smaller than the chosen size (worker)."""
        if self.editor is None or self.task_bar.busy:
            return
        editor, size = self.editor, self._islands.value()
        self.task_bar.start(
            lambda progress, cancel: editor.island_removal(size),
            lambda change: self._apply(editor, change, "remove islands", "Removed", "No small islands."),
            description="Removing islands",
        )

    def add_boxes_layer(self) -> None:
        """Add an empty boxes layer on the annotation's grid, ready to draw rectangles."""
        if self.editor is None:
            return
        label_map = self.editor.label_map
        shapes = add_boxes(self.viewer, [], label_map.labels, label_map.geometry, name="boxes")
        label = self.layer.selected_label
        # an empty layer's feature columns are float; new rectangles need a label name and a box id
        shapes.features = {
            "box_id": np.array([], int),
            "label": np.array([], object),
            "score": np.array([], float),
        }
        shapes.feature_defaults = {"box_id": -1, "label": label_map.labels.name_of(label), "score": 1.0}
        shapes.mode = "add_rectangle"

    def add_points_layer(self) -> None:
        """Add an empty points layer (detection points) on the annotation's grid."""
        if self.layer is None:
            return
        points = Points(
            ndim=self.layer.ndim, name="points", scale=self.layer.scale, translate=self.layer.translate
        )
        points.affine = self.layer.affine
        self.viewer.add_layer(points)
        points.mode = "add"

    def save(self, path: str | Path | None = None) -> None:
        """Save a new version into the workspace case, or to ``path`` (asked for when ``None``).

        The voxels are copied here and written by a worker, so painting can go on meanwhile.
        """
        if self.editor is None or self.layer is None or self.task_bar.busy:
            return
        case = self.layer.metadata.get(CASE_KEY)
        if case is None and path is None:
            path, _ = QFileDialog.getSaveFileName(self, "Save annotation", "", "NIfTI (*.nii.gz *.nii)")
            if not path:
                return
        editor, boxes = self.editor, self._boxes_layers()
        current = editor.label_map
        snapshot = LabelMap(current.array.copy(), current.geometry, current.labels, current.provenance)
        revision = editor.revision

        def write(progress: ProgressCallback, cancel: CancelToken) -> Path:
            if path is not None:
                return save_nifti(snapshot, path, editor.scan)
            with Workspace.open(case["workspace"]) as workspace:
                saved = workspace.save_labels(case["case_id"], snapshot).path
                for box_set in boxes:
                    workspace.save_boxes(case["case_id"], box_set, snapshot.labels, snapshot.provenance)
            return saved

        def saved(saved_path: Path) -> None:
            if self.autosave is not None and editor is self.editor:
                self.autosave.autosaver.clear(revision)
                self._saved_revision = revision
            self._say(f"Saved {saved_path}")
            if case is not None and path is None:
                self.saved_to_workspace.emit(str(case["workspace"]), str(case["case_id"]))

        self.task_bar.start(write, saved, description="Saving")

    def recover_draft(self) -> None:
        """Replace the annotation's voxels with the offered draft (an undoable edit)."""
        if self.draft is None or self.editor is None:
            return
        recovered = recover(self.draft)
        if recovered.array.shape != self.editor.array.shape:
            self._say("The draft does not fit this annotation's grid; discard it.", error=True)
            return
        region = tuple(slice(0, n) for n in recovered.array.shape)
        self.editor.apply(
            tools.Change(region, recovered.array.astype(self.editor.array.dtype)), "recover draft"
        )
        self.editor.label_map.labels = recovered.labels
        self._show_table(recovered.labels)
        self._hide_draft(f"Recovered the draft saved {self.draft.saved}.")

    def discard_draft(self) -> None:
        if self.draft is not None:
            discard(self.draft)
            self._hide_draft("Discarded the draft.")

    # napari paint events -> core history

    def _on_napari_paint(self, event: Any) -> None:
        # napari emits this just before it writes a single paint call's voxels: record them once the
        # write is done, so the intensity limit can put back what it must not change
        atoms = list(event.value)
        self.layer._reset_history()  # one undo stack: ours (napari has no public way to clear its own)
        QTimer.singleShot(0, lambda: self._record_paint(atoms))

    def _record_paint(self, atoms: list) -> None:
        if self.editor is None:
            return
        shape = self.editor.array.shape
        indices, old, new = [], [], []
        for atom in atoms:
            atom_indices, atom_old, atom_new = _voxel_writes(atom)
            indices.append(np.ravel_multi_index(atom_indices, shape))
            old.append(np.broadcast_to(atom_old, indices[-1].shape))
            new.append(np.broadcast_to(atom_new, indices[-1].shape))
        if not indices:
            return
        edit = edit_from_voxels(
            shape, np.concatenate(indices), np.concatenate(old), np.concatenate(new), "brush"
        )
        if edit is not None and self.editor.record(edit, self.intensity_range) is None:
            self.layer.refresh()

    # building

    def _build(self) -> None:
        self._target = _message_label()
        new = _button("New annotation", "Add an empty annotation for the selected scan", self.new_annotation)

        self._preset = QComboBox()
        self._preset.addItems(PRESET_NAMES)
        self._preset.setToolTip("Label table preset for new annotations and 'Use preset'")
        use_preset = _button("Use preset", "Replace the label table with the chosen preset", self._use_preset)
        self._table = QTableWidget(0, 3)
        self._table.setHorizontalHeaderLabels(["Value", "Name", "Colour"])
        self._table.verticalHeader().setVisible(False)
        self._table.setToolTip(
            "Double-click a name to rename, a colour to change it; the selected row paints"
        )
        self._table.itemChanged.connect(self._on_table_edit)
        self._table.cellDoubleClicked.connect(self._pick_colour)
        self._table.currentCellChanged.connect(self._on_row_selected)
        add_class = _button("Add class", "Add a label class with the next free value", self._add_class)
        remove_class = _button("Remove class", "Remove the selected class from the table", self._remove_class)

        labels_box = QGroupBox("Labels")
        labels_layout = QGridLayout(labels_box)
        labels_layout.addWidget(self._preset, 0, 0)
        labels_layout.addWidget(use_preset, 0, 1)
        labels_layout.addWidget(self._table, 1, 0, 1, 2)
        labels_layout.addWidget(add_class, 2, 0)
        labels_layout.addWidget(remove_class, 2, 1)

        self._buttons: dict[str, QPushButton] = {}
        tool_row = QHBoxLayout()
        for mode, text, tip in (
            ("paint", "Paint", "Paint with the selected label"),
            ("erase", "Erase", "Erase to background"),
            ("fill", "Fill", "Fill the connected region under the cursor"),
            ("pan_zoom", "Navigate", "Pan and zoom without editing"),
        ):
            button = _button(text, tip, lambda checked=False, m=mode: self.set_mode(m), SHORTCUTS[mode])
            self._buttons[mode] = button
            tool_row.addWidget(button)
        self._radius = QDoubleSpinBox()
        self._radius.setRange(0.1, 200.0)
        self._radius.setValue(3.0)
        self._radius.setSuffix(" mm")
        self._radius.setToolTip("Brush radius in millimetres of the scan")
        self._radius.valueChanged.connect(self._set_brush)
        self._brush_3d = QCheckBox("3D brush")
        self._brush_3d.setToolTip("Paint a ball through neighbouring slices instead of a disc in this slice")
        self._brush_3d.toggled.connect(self._set_brush)
        self._limit = QCheckBox("Only within intensity range")
        self._limit.setToolTip("Paint only voxels whose scan value lies in the range (e.g. a HU window)")
        self._low, self._high = QDoubleSpinBox(), QDoubleSpinBox()
        for spin, value in ((self._low, -100.0), (self._high, 200.0)):
            spin.setRange(-100000.0, 100000.0)
            spin.setValue(value)
        range_row = QHBoxLayout()
        range_row.addWidget(self._low)
        range_row.addWidget(QLabel("to"))
        range_row.addWidget(self._high)
        tools_box = QGroupBox("Tools")
        tools_form = QFormLayout(tools_box)
        tools_form.addRow(tool_row)
        tools_form.addRow("Brush radius", self._radius)
        tools_form.addRow(self._brush_3d)
        tools_form.addRow(self._limit)
        tools_form.addRow("Range", range_row)

        self._islands = QSpinBox()
        self._islands.setRange(1, 10_000_000)
        self._islands.setValue(10)
        self._islands.setSuffix(" voxels")
        self._islands.setToolTip("Islands smaller than this are erased")
        interpolate = _button(
            "Interpolate slices",
            "Fill the slices between annotated slices of the selected label",
            self.interpolate,
            SHORTCUTS["interpolate"],
        )
        islands = _button(
            "Remove islands", "Erase connected pieces smaller than the size", self.remove_islands
        )
        boxes = _button(
            "Boxes", "Add a layer to draw detection boxes", self.add_boxes_layer, SHORTCUTS["boxes"]
        )
        points = _button("Points", "Add a layer to place detection points", self.add_points_layer)
        self._undo = _button("Undo", "Undo the last edit", self.undo, SHORTCUTS["undo"])
        self._redo = _button("Redo", "Redo the last undone edit", self.redo, SHORTCUTS["redo"])
        save = _button("Save", "Save a new annotation version", lambda: self.save(), SHORTCUTS["save"])
        edit_box = QGroupBox("Edit")
        edit_layout = QGridLayout(edit_box)
        edit_layout.addWidget(interpolate, 0, 0)
        edit_layout.addWidget(islands, 1, 0)
        edit_layout.addWidget(self._islands, 1, 1)
        edit_layout.addWidget(boxes, 2, 0)
        edit_layout.addWidget(points, 2, 1)
        edit_layout.addWidget(self._undo, 3, 0)
        edit_layout.addWidget(self._redo, 3, 1)
        edit_layout.addWidget(save, 4, 0, 1, 2)

        self._draft_box = QGroupBox("Unsaved draft found")
        self._draft_label = _message_label()
        draft_layout = QGridLayout(self._draft_box)
        draft_layout.addWidget(self._draft_label, 0, 0, 1, 2)
        draft_layout.addWidget(
            _button("Recover", "Put the draft's voxels into the annotation", self.recover_draft), 1, 0
        )
        draft_layout.addWidget(_button("Discard", "Delete the draft", self.discard_draft), 1, 1)
        self._draft_box.setVisible(False)

        self._status = _message_label()
        content = QWidget()
        layout = QVBoxLayout(content)
        self.task_bar = TaskBar()
        widgets = (
            self._target,
            new,
            self._draft_box,
            labels_box,
            tools_box,
            edit_box,
            self.task_bar,
            self._status,
        )
        for widget in widgets:
            layout.addWidget(widget)
        layout.addStretch(1)
        scroll = QScrollArea()  # a tall panel must not force the window taller than the screen
        scroll.setWidgetResizable(True)
        scroll.setWidget(content)
        outer = QVBoxLayout(self)
        outer.setContentsMargins(0, 0, 0, 0)
        outer.addWidget(scroll)
        for name, button in (("undo", self._undo), ("redo", self._redo), ("save", save)):
            shortcut = QShortcut(QKeySequence(SHORTCUTS[name]), self)
            shortcut.setContext(Qt.ShortcutContext.WindowShortcut)
            shortcut.activated.connect(button.click)

    # helpers

    def _on_active_layer(self, event: Any = None) -> None:
        active = self.viewer.layers.selection.active
        if isinstance(active, Labels):
            self.attach(active)
        elif self.layer is not None and self.layer not in self.viewer.layers:
            self.attach(None)

    def _detach(self) -> None:
        if self.layer is not None:
            self.layer.events.paint.disconnect(self._on_napari_paint)
        if self.autosave is not None:
            self.autosave.stop()
            self.autosave.deleteLater()
        self.layer = self.editor = self.autosave = self.draft = None
        self._draft_box.setVisible(False)

    def _scan_for(self, label_map: LabelMap) -> Scan | None:
        for layer in self.viewer.layers:
            scan = scan_from_layer(layer)
            if scan is not None and label_map.fits(scan):
                return scan
        return None

    def _active_scan(self) -> Scan | None:
        active = self.viewer.layers.selection.active
        scan = scan_from_layer(active) if active is not None else None
        if scan is not None:
            return scan
        return next((s for s in map(scan_from_layer, self.viewer.layers) if s is not None), None)

    def _case_of(self, layer: Labels) -> tuple[Path, str]:
        case = layer.metadata.get(CASE_KEY)
        if case is not None:
            return Path(case["workspace"]) / "drafts", str(case["case_id"])
        location = QStandardPaths.writableLocation(QStandardPaths.StandardLocation.AppDataLocation)
        return Path(location) / "drafts", layer.name

    def _offer_draft(self, directory: Path, case_id: str) -> None:
        drafts = (
            [draft for draft in find_drafts(directory) if draft.case_id == case_id]
            if directory.exists()
            else []
        )
        self.draft = drafts[0] if drafts else None
        if self.draft is not None:
            self._draft_label.setText(
                f"An autosaved draft of this annotation from {self.draft.saved} was not saved. "
                "Recover it or discard it; nothing is applied until you choose."
            )
        self._draft_box.setVisible(self.draft is not None)

    def _hide_draft(self, message: str) -> None:
        self.draft = None
        self._draft_box.setVisible(False)
        self._say(message)

    def _slicing_axis(self) -> int:
        not_displayed = list(self.viewer.dims.not_displayed)
        offset = self.viewer.dims.ndim - self.editor.array.ndim
        axes = [axis - offset for axis in not_displayed if axis >= offset]
        return axes[0] if axes else 0

    def _set_brush(self) -> None:
        if self.layer is None or self.editor is None:
            return
        spacing = self.editor.label_map.geometry.spacing
        in_plane = min(spacing[-2:])
        scan = self._scan_for(self.editor.label_map)
        unit = _RADIUS_UNITS.get(scan.units if scan is not None else "mm", "mm")
        if self._radius.suffix() != f" {unit}":
            self._radius.setSuffix(f" {unit}")
            self._radius.setToolTip(f"Brush radius in {_RADIUS_WORDS[unit]} of the scan")
        self.layer.brush_size = max(1, round(2 * self._radius.value() / in_plane))
        self.layer.n_edit_dimensions = 3 if self._brush_3d.isChecked() and self.layer.ndim >= 3 else 2

    def _boxes_layers(self) -> list[list[Box]]:
        from napari.layers import Shapes

        labels = self.editor.label_map.labels
        return [boxes_from_layer(layer, labels) for layer in self.viewer.layers if isinstance(layer, Shapes)]

    def _show_table(self, labels: LabelTable) -> None:
        self._table.blockSignals(True)
        self._table.setRowCount(0)
        for label in labels:
            row = self._table.rowCount()
            self._table.insertRow(row)
            value = QTableWidgetItem(str(label.value))
            value.setFlags(value.flags() & ~Qt.ItemFlag.ItemIsEditable)
            colour = QTableWidgetItem("")
            colour.setFlags(colour.flags() & ~Qt.ItemFlag.ItemIsEditable)
            colour.setBackground(QColor(*label.colour))
            self._table.setItem(row, 0, value)
            self._table.setItem(row, 1, QTableWidgetItem(label.name))
            self._table.setItem(row, 2, colour)
        self._table.blockSignals(False)
        if self.layer is not None:
            self.layer.colormap = label_colormap(labels)

    def _set_labels(self, labels: LabelTable) -> None:
        if self.editor is None:
            return
        self.editor.label_map.labels = labels
        self.editor.revision += 1  # the table is part of the draft
        self._show_table(labels)

    def _use_preset(self) -> None:
        self._set_labels(preset(self._preset.currentText()))

    def _add_class(self) -> None:
        if self.editor is None:
            return
        labels = self.editor.label_map.labels
        value = max(labels.values, default=0) + 1
        name = f"class {value}"
        self._set_labels(LabelTable([*labels, LabelClass(value, name, _default_colour(value))]))

    def _remove_class(self) -> None:
        row = self._table.currentRow()
        if self.editor is None or row < 0:
            return
        value = int(self._table.item(row, 0).text())
        self._set_labels(
            LabelTable([label for label in self.editor.label_map.labels if label.value != value])
        )

    def _on_table_edit(self, item: QTableWidgetItem) -> None:
        if self.editor is None or item.column() != 1:
            return
        value = int(self._table.item(item.row(), 0).text())
        classes = [
            LabelClass(c.value, item.text().strip(), c.colour) if c.value == value else c
            for c in self.editor.label_map.labels
        ]
        try:
            self._set_labels(LabelTable(classes))
        except ValueError as error:
            self._say(str(error), error=True)
            self._show_table(self.editor.label_map.labels)

    def _pick_colour(self, row: int, column: int) -> None:
        if self.editor is None or column != 2:
            return
        value = int(self._table.item(row, 0).text())
        current = self.editor.label_map.labels[value]
        chosen = QColorDialog.getColor(QColor(*current.colour), self, f"Colour of {current.name}")
        if chosen.isValid():
            self._set_colour(value, (chosen.red(), chosen.green(), chosen.blue()))

    def _set_colour(self, value: int, colour: tuple[int, int, int]) -> None:
        classes = [
            LabelClass(c.value, c.name, colour) if c.value == value else c
            for c in self.editor.label_map.labels
        ]
        self._set_labels(LabelTable(classes))

    def _on_row_selected(self, row: int, *_: int) -> None:
        if self.layer is not None and row >= 0 and self._table.item(row, 0) is not None:
            self.layer.selected_label = int(self._table.item(row, 0).text())

    def _apply(
        self, editor: AnnotationEditor, change: tools.Change, name: str, done: str, nothing: str
    ) -> None:
        if editor is not self.editor:  # the user switched annotations while the worker ran
            return
        edit = editor.apply(change, name)
        self._say(f"{done} {edit.voxel_count} voxels." if edit else nothing)

    def _update_undo_buttons(self) -> None:
        history = None if self.editor is None else self.editor.history
        self._undo.setEnabled(bool(history and history.can_undo))
        self._redo.setEnabled(bool(history and history.can_redo))

    def _say(self, message: str, error: bool = False) -> None:
        self._status.setText(message)
        self._status.setStyleSheet("color: #e05050;" if error else "")


def _voxel_writes(atom: Any) -> tuple[tuple[np.ndarray, ...], np.ndarray, Any]:
    """(multi-index, old values, new values) of one napari history atom, in full-array indices."""
    if not hasattr(atom, "slice_key"):  # data_setitem's (indices, old values, new values)
        indices, old, new = atom
        return (
            tuple(np.asarray(axis).ravel() for axis in indices),
            np.asarray(old).ravel(),
            np.asarray(new).ravel(),
        )
    starts = [region.start or 0 for region in atom.slice_key]
    old = np.asarray(atom.old_values)
    if atom.mask is None:  # the whole box changed and ``old_values`` is the box
        local = tuple(np.indices(old.shape).reshape(old.ndim, -1))
        old = old.ravel()
    else:
        local = np.nonzero(atom.mask)
    return tuple(axis + start for axis, start in zip(local, starts, strict=True)), old, atom.new_value


def _message_label() -> QLabel:
    """A wrapped label whose text never widens the dock (which would shrink the canvas)."""
    label = QLabel()
    label.setWordWrap(True)
    label.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)
    return label


def _default_colour(value: int) -> tuple[int, int, int]:
    hue = (value * 137) % 360
    colour = QColor.fromHsv(hue, 200, 230)
    return (colour.red(), colour.green(), colour.blue())


def _button(text: str, tip: str, slot: Any, shortcut: str | None = None) -> QPushButton:
    button = QPushButton(text)
    button.setToolTip(f"{tip} ({shortcut})" if shortcut else tip)
    button.clicked.connect(slot)
    if shortcut and shortcut.isalpha():  # single keys: plain button shortcuts; chords use QShortcut
        button.setShortcut(QKeySequence(shortcut))
    return button
