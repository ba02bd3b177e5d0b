"""The annotation panel: what is edited, brush/fill/erase, interpolation, clean-up, undo, save, drafts.

It works on a napari Labels layer whose data *is* the label map's array, so napari's own brush
paints straight into the annotation. Every napari paint event is converted into the core
:class:`~medview.annotations.history.History` (changed voxels only) and napari's own history is
emptied, so there is one undo stack per annotation, kept by the panel's
:class:`~medview.annotations.session.AnnotationSession` while the user switches layers.

The editing target is explicit: ground truth shown for comparison and a model's output are never
edited unless the user picks them ("Edit a copy" marks the copy as corrected from that model
version); the tools otherwise work on the user's own "<scan> annotation", made on first use.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
from napari.components import ViewerModel
from napari.layers import Labels, Points, Shapes
from qtpy.QtCore import Qt, QTimer, Signal
from qtpy.QtGui import QKeySequence, QShortcut
from qtpy.QtWidgets import (
    QFileDialog,
    QHBoxLayout,
    QLabel,
    QMessageBox,
    QPushButton,
    QScrollArea,
    QSizePolicy,
    QVBoxLayout,
    QWidget,
)

from medview.annotations import tools
from medview.annotations.session import (
    AnnotationSession,
    OpenAnnotation,
    WorkspaceCase,
    corrected_copy,
    is_reference,
    write_annotation_file,
)
from medview.core.boxes import Box
from medview.core.labels import LabelTable
from medview.core.progress import CancelToken, ProgressCallback
from medview.core.scan import LabelMap, Scan
from medview.qt.bridge import (
    LABEL_MAP_KEY,
    add_boxes,
    add_label_map,
    boxes_from_layer,
    label_colormap,
    label_map_from_layer,
    scan_from_layer,
)
from medview.qt.napari_paint import paint_edit
from medview.qt.opening import opening_error_text
from medview.qt.widgets.brush_box import BrushBox
from medview.qt.widgets.draft_offers import DraftOffers
from medview.qt.widgets.edit_box import EditBox
from medview.qt.widgets.label_table_box import LabelTableBox
from medview.qt.widgets.task_bar import TaskBar
from medview.workspace import Workspace

CASE_KEY = "medview_case"
"""Labels-layer metadata set by the case browser: ``{"workspace": folder, "case_id": id}``."""
EDITING_KEY = "medview_editing"
"""Labels-layer metadata: ``True`` once the user chose to edit this layer (or opened it to edit)."""
TICK_MS = 1000

# A scan of unknown pixel size is painted in pixels: its unit spacing is no millimetre.
_RADIUS_UNITS = {"mm": "mm", "um": "µm", "pixel": "px"}
_RADIUS_WORDS = {"mm": "millimetres", "µm": "microns", "px": "pixels"}
_REFERENCE_WORDS = {"demo": "ground truth", "import": "an imported reference", "model": "a model's output"}
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


def edits_directly(layer: Labels) -> bool:
    """True when the tools may edit ``layer`` without asking: the user's own annotation, a workspace
    case's, one the user chose, or one drawn in plain napari."""
    if layer.metadata.get(EDITING_KEY) or CASE_KEY in layer.metadata:
        return True
    known = layer.metadata.get(LABEL_MAP_KEY)
    return not (isinstance(known, LabelMap) and is_reference(known))


class AnnotationPanel(QWidget):
    """Edit the user's annotation of the open scan; see the module docstring.

    Signals:
        saved_to_workspace(str, str): workspace folder and case id, after a new version is saved there.
    """

    saved_to_workspace = Signal(str, str)

    def __init__(
        self, viewer: ViewerModel, parent: QWidget | None = None, session: AnnotationSession | None = None
    ) -> None:
        super().__init__(parent)
        self.viewer = viewer
        self.session = session or AnnotationSession()
        self.layer: Labels | None = None
        self.annotation: OpenAnnotation | None = None
        self.reference: Labels | None = None
        self.ask_export_path: Callable[[OpenAnnotation], tuple[str, Path] | None] = self._ask_nifti_path
        """Asks where (and in which format) to save an annotation outside a workspace: ``(format,
        path)``, or ``None`` when the user cancels; the window offers every export format."""
        self._wired: set[int] = set()
        self._build()
        self._timer = QTimer(self)
        self._timer.setInterval(TICK_MS)
        self._timer.timeout.connect(self.session.tick)
        self._timer.start()
        viewer.layers.selection.events.active.connect(self._on_active_layer)
        viewer.layers.events.removed.connect(self._on_layer_removed)
        self._on_active_layer()

    # what the user sees

    @property
    def editor(self):
        """The :class:`~medview.annotations.editor.AnnotationEditor` being edited, or ``None``."""
        return None if self.annotation is None else self.annotation.editor

    @property
    def status(self) -> str:
        return self._status.text()

    @property
    def target(self) -> str:
        return self._target.text()

    @property
    def intensity_range(self) -> tools.IntensityRange | None:
        if not self._limit.isChecked():
            return None
        return (self._low.value(), self._high.value())

    # choosing what is edited

    def attach(self, layer: Labels | None) -> None:
        """Edit ``layer`` (a labels layer) if it is the user's own; ``None`` detaches."""
        if layer is self.layer and layer is not None:
            return
        self._detach()
        if layer is None:
            self._target.setText("No annotation: paint, or press New annotation, to start one")
            return
        if not edits_directly(layer):
            self._offer_reference(layer)
            return
        label_map = label_map_from_layer(layer)
        if label_map.array is not layer.data:
            self.say("This labels layer is not an in-memory array; it cannot be edited here.", error=True)
            return
        layer.metadata[LABEL_MAP_KEY] = label_map
        case = layer.metadata.get(CASE_KEY)
        where = None if case is None else WorkspaceCase(Path(case["workspace"]), str(case["case_id"]))
        self.annotation = self.session.open(label_map, self._scan_for(label_map), layer.name, where)
        self.layer = layer
        self._wire(self.annotation, layer)
        layer.editable = True
        layer.events.paint.connect(self._on_napari_paint)
        self._target.setText(f"Editing: {layer.name} ({label_map.provenance.source})")
        self._labels.show_table(label_map.labels)
        self._set_brush()
        self._update_undo_buttons()
        self.drafts.offer_for(self.annotation)

    def edit_copy(self) -> Labels | None:
        """Edit a copy of the reference layer selected (a model output copy is "corrected from" it)."""
        if self.reference is None:
            return None
        copy = corrected_copy(label_map_from_layer(self.reference))
        layer = add_label_map(self.viewer, copy, name=f"{self.reference.name} (corrected)")
        layer.metadata[EDITING_KEY] = True
        self.viewer.layers.selection.active = layer
        return layer

    def edit_reference(self) -> None:
        """Edit the selected reference layer itself: the user picked it."""
        layer = self.reference
        if layer is not None:
            layer.metadata[EDITING_KEY] = True
            self.reference = None
            self.attach(layer)

    def new_annotation(self) -> Labels | None:
        """Add an empty annotation for the open scan, with the chosen preset's label table."""
        scan = self._active_scan()
        if scan is None:
            self.say("Open a scan first.")
            return None
        label_map = LabelMap(
            np.zeros(scan.spatial_shape, dtype=np.uint8),
            scan.geometry,
            self._labels.preset,
            self._drawn(scan),
        )
        layer = add_label_map(self.viewer, label_map, name=f"{scan.name or 'scan'} annotation")
        layer.metadata[EDITING_KEY] = True
        self.viewer.layers.selection.active = layer
        return layer

    def unsaved_case(self) -> tuple[str, str] | None:
        """``(workspace, case id)`` of the edited workspace case when it has edits not yet saved as a
        version (drafts do not count), else ``None``."""
        annotation = self.annotation
        if annotation is None or annotation.case is None or not annotation.unsaved:
            return None
        return str(annotation.case.workspace), annotation.case.case_id

    # tools

    def set_mode(self, mode: str) -> None:
        """napari's labels mode: ``paint``, ``erase``, ``fill`` or ``pan_zoom``; an editing mode with
        no annotation chosen starts the user's own (never the reference on screen)."""
        if self.layer is None and mode != "pan_zoom":
            self._continue_or_start()
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
            self._continue_or_start()
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

    # saving

    def save(
        self,
        path: str | Path | None = None,
        annotation: OpenAnnotation | None = None,
        then: Callable[[], None] | None = None,
    ) -> None:
        """Save a new version into the workspace case, or to ``path`` (asked for when ``None``, in any
        export format). The voxels are copied here and written by a worker, so painting goes on;
        ``then`` runs once the file is written."""
        annotation = annotation or self.annotation
        if annotation is None or self.task_bar.busy:
            return
        case, fmt = annotation.case, "nifti"
        if case is None and path is None:
            asked = self.ask_export_path(annotation)
            if asked is None:
                return
            fmt, path = asked
        editor, boxes = annotation.editor, self._boxes_layers(annotation)
        current = editor.label_map
        snapshot = LabelMap(current.array.copy(), current.geometry, current.labels, current.provenance)
        revision = editor.revision

        def write(progress: ProgressCallback, cancel: CancelToken) -> Path:
            if path is not None:
                return write_annotation_file(snapshot, editor.scan, fmt, Path(path), boxes)
            with Workspace.open(case.workspace) as workspace:
                saved = workspace.save_labels(case.case_id, snapshot).path
                for box_set in boxes:
                    workspace.save_boxes(case.case_id, box_set, snapshot.labels, snapshot.provenance)
            return saved

        def saved(saved_path: Path) -> None:
            self.session.mark_saved(annotation, revision, None if path is None else Path(path))
            self.say(f"Saved {saved_path}")
            if case is not None and path is None:
                self.saved_to_workspace.emit(str(case.workspace), case.case_id)
            if then is not None:
                then()

        def failed(error: BaseException) -> None:
            where = path if path is not None else case.workspace
            QMessageBox.critical(self, "Could not save the annotation", opening_error_text(where, error))

        self.task_bar.start(write, saved, on_error=failed, description="Saving")

    def save_all(self, then: Callable[[], None]) -> None:
        """Save every annotation with unsaved edits, one after the other, then call ``then``; stops
        (without ``then``) when the user cancels a file dialog or a save fails."""
        unsaved = self.session.unsaved()
        if not unsaved:
            then()
            return
        self.save(annotation=unsaved[0], then=lambda: self.save_all(then))

    def _ask_nifti_path(self, annotation: OpenAnnotation) -> tuple[str, Path] | None:
        path, _ = QFileDialog.getSaveFileName(
            self, "Save annotation", f"{annotation.name}.nii.gz", "NIfTI (*.nii.gz *.nii)"
        )
        return ("nifti", Path(path)) if path else None

    # napari paint events -> core history

    def _on_napari_paint(self, event: Any) -> None:
        # napari emits this just before it writes a single paint call's voxels: record them once the
        # write is done, so the intensity limit can put back what it must not change
        atoms = list(event.value)
        layer, annotation = event.source, self.annotation
        layer._reset_history()  # one undo stack: ours (napari has no public way to clear its own)
        QTimer.singleShot(0, lambda: self._record_paint(annotation, layer, atoms))

    def _record_paint(self, annotation: OpenAnnotation | None, layer: Labels, atoms: list) -> None:
        if annotation is None:
            return
        edit = paint_edit(atoms, annotation.editor.array.shape)
        if edit is not None and annotation.editor.record(edit, self.intensity_range) is None:
            layer.refresh()

    # building

    def _build(self) -> None:
        self._target = _message_label()
        new = _button("New annotation", "Add an empty annotation for the open scan", self.new_annotation)
        self._reference_row = QWidget()
        reference_layout = QHBoxLayout(self._reference_row)
        reference_layout.setContentsMargins(0, 0, 0, 0)
        reference_layout.addWidget(
            _button(
                "Edit a copy", "Edit a copy of this layer; the layer itself stays as it is", self.edit_copy
            )
        )
        reference_layout.addWidget(
            _button("Edit this layer", "Edit the reference layer itself", self.edit_reference)
        )
        self._reference_row.setVisible(False)

        self._labels = LabelTableBox()
        self._labels.changed.connect(self._set_labels)
        self._labels.label_selected.connect(self._select_label)
        self._labels.error.connect(lambda text: self.say(text, error=True))

        tools_box = BrushBox(self.set_mode, self._set_brush, SHORTCUTS)
        self._radius, self._brush_3d = tools_box.radius, tools_box.brush_3d
        self._limit, self._low, self._high = tools_box.limit, tools_box.low, tools_box.high
        self.tool_buttons = tools_box.buttons

        edit_box = EditBox(self, SHORTCUTS)
        self._islands, self._undo, self._redo = edit_box.islands, edit_box.undo, edit_box.redo
        save = edit_box.save
        self.drafts = DraftOffers(self)

        self._status = _message_label()
        content = QWidget()
        layout = QVBoxLayout(content)
        self.task_bar = TaskBar()
        for widget in (
            self._target,
            self._reference_row,
            new,
            self.drafts,
            self._labels,
            tools_box,
            edit_box,
            self.task_bar,
            self._status,
        ):
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
        elif self.layer is None or self.layer not in self.viewer.layers:
            self.attach(None)

    def _on_layer_removed(self, event: Any) -> None:
        layer = event.value
        known = layer.metadata.get(LABEL_MAP_KEY) if isinstance(layer, Labels) else None
        if layer is self.layer or layer is self.reference:
            self.attach(None)
        if isinstance(known, LabelMap):
            self.session.close(known)  # unsaved edits stay in its draft

    def _detach(self) -> None:
        if self.layer is not None:
            self.layer.events.paint.disconnect(self._on_napari_paint)
        self.layer = self.annotation = self.reference = None
        self.drafts.forget()
        self._reference_row.setVisible(False)
        self._update_undo_buttons()

    def _offer_reference(self, layer: Labels) -> None:
        known = layer.metadata[LABEL_MAP_KEY]
        what = _REFERENCE_WORDS.get(known.provenance.source, "a reference")
        self.reference = layer
        layer.editable = False  # napari's own brush must not paint into it either
        said = layer.name if what in layer.name else f"{layer.name} ({what})"
        self._target.setText(
            f"{said} is a reference and is not edited. Paint to start your own annotation, or edit a copy."
        )
        self._reference_row.setVisible(True)
        self._labels.show_table(known.labels, enabled=False)

    def _continue_or_start(self) -> None:
        """Select the user's own annotation of the open scan, or make one."""
        scan = self._active_scan()
        for layer in reversed(self.viewer.layers):
            if isinstance(layer, Labels) and layer is not self.reference and edits_directly(layer):
                known = layer.metadata.get(LABEL_MAP_KEY)
                if scan is None or not isinstance(known, LabelMap) or known.fits(scan):
                    self.viewer.layers.selection.active = layer
                    return
        self.new_annotation()

    def _wire(self, annotation: OpenAnnotation, layer: Labels) -> None:
        if id(annotation) in self._wired:
            return
        self._wired.add(id(annotation))
        annotation.editor.add_listener(lambda region: layer.refresh())
        annotation.editor.add_listener(
            lambda region: self._update_undo_buttons() if self.annotation is annotation else None
        )

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

    @staticmethod
    def _drawn(scan: Scan):
        from medview.core.provenance import Provenance

        return Provenance.drawn(derived_from=scan.source)

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

    def _boxes_layers(self, annotation: OpenAnnotation) -> list[list[Box]]:
        labels = annotation.label_map.labels
        return [boxes_from_layer(layer, labels) for layer in self.viewer.layers if isinstance(layer, Shapes)]

    def show_labels(self, labels: LabelTable) -> None:
        self._labels.show_table(labels)
        if self.layer is not None:
            self.layer.colormap = label_colormap(labels)

    def _set_labels(self, labels: LabelTable) -> None:
        if self.editor is None:
            return
        self.editor.label_map.labels = labels
        self.editor.revision += 1  # the table is part of the draft
        self.show_labels(labels)

    def _select_label(self, value: int) -> None:
        if self.layer is not None:
            self.layer.selected_label = value

    def _apply(self, editor: Any, change: tools.Change, name: str, done: str, nothing: str) -> None:
        if editor is not self.editor:  # the user switched annotations while the worker ran
            return
        edit = editor.apply(change, name)
        self.say(f"{done} {edit.voxel_count} voxels." if edit else nothing)

    def _update_undo_buttons(self) -> None:
        history = None if self.editor is None else self.editor.history
        self._undo.setEnabled(bool(history and history.can_undo))
        self._redo.setEnabled(bool(history and history.can_redo))

    def say(self, message: str, error: bool = False) -> None:
        self._status.setText(message)
        self._status.setStyleSheet("color: #e05050;" if error else "")


def _message_label() -> QLabel:
    """A wrapped label whose text never widens the dock (which would shrink the canvas)."""
    label = QLabel()
    label.setWordWrap(True)
    label.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)
    return label


def _button(text: str, tip: str, slot: Any, shortcut: str | None = None) -> QPushButton:
    button = QPushButton(text)
    button.setToolTip(f"{tip} ({shortcut})" if shortcut else tip)
    button.clicked.connect(slot)
    if shortcut and shortcut.isalpha():  # single keys: plain button shortcuts; chords use QShortcut
        button.setShortcut(QKeySequence(shortcut))
    return button
