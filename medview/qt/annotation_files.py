"""File > Export annotation and File > Open segmentation: annotations in and out of the window.

Export writes the annotation being edited (or the selected labels layer, and the boxes drawn) in any
format of :mod:`medview.annotations.export`; a format that cannot hold it is refused with the
export module's reason, and DICOM SEG/RTSTRUCT of a scan that is not DICOM offer to write a DICOM
copy of the scan first. Open segmentation lays a label map, DICOM SEG, boxes or GeoJSON over the
open scan like ITK-SNAP's "Open segmentation"; a misfit is refused in the user's terms, and
resampling (nearest neighbour) is offered only where the two grids overlap.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from napari.layers import Labels, Layer, Shapes
from qtpy.QtWidgets import QFileDialog, QMessageBox

from medview.annotations.session import OpenAnnotation
from medview.core.boxes import Box
from medview.core.progress import Cancelled, CancelToken, ProgressCallback
from medview.core.scan import LabelMap, Scan
from medview.qt.bridge import (
    boxes_from_layer,
    boxes_layer_data,
    label_map_from_layer,
    label_map_layer_data,
    scan_from_layer,
)
from medview.qt.opening import check_drawable, opening_error_text
from medview.qt.widgets.annotation_panel import EDITING_KEY

if TYPE_CHECKING:
    from medview.qt.app import MainWindow

FORMAT_TITLES = {
    "nifti": ("NIfTI + label table", "NIfTI (*.nii.gz *.nii)", ".nii.gz"),
    "nrrd": ("NRRD (3D Slicer segmentation)", "3D Slicer segmentation (*.seg.nrrd)", ".seg.nrrd"),
    "seg": ("DICOM SEG", "DICOM SEG (*.dcm)", ".dcm"),
    "rtstruct": ("DICOM RTSTRUCT", "DICOM RTSTRUCT (*.dcm)", ".dcm"),
    "coco": ("COCO (boxes and outlines)", "COCO JSON (*.json)", ".json"),
    "geojson": ("GeoJSON (QuPath)", "GeoJSON (*.geojson)", ".geojson"),
}
_NEEDS_DICOM = ("seg", "rtstruct")


class AnnotationFiles:
    """The window's annotation import and export; ``ask_*`` methods are the dialogs tests answer."""

    def __init__(self, window: MainWindow) -> None:
        self.window = window

    # ------------------------------------------------------------------ export
    def export(self, fmt: str, path: str | Path | None = None, dicom_copy: Path | None = None) -> None:
        """Export the annotation on screen as ``fmt``, asking where when ``path`` is ``None``."""
        from medview.annotations.export import export_reason

        window = self.window
        scan, label_map, boxes, labels = self.annotation_on_screen()
        if fmt != "coco":
            boxes = []  # boxes go to COCO; the label-map formats take the label map alone
        if scan is None or (label_map is None and not boxes):
            window.show_error("Nothing to export", "Open a scan and draw or open an annotation first.")
            return
        reason = export_reason(fmt, scan, label_map=label_map, boxes=boxes or None, dicom_copy=dicom_copy)
        copy_would_do = (
            reason is not None
            and dicom_copy is None
            and fmt in _NEEDS_DICOM
            and export_reason(fmt, scan, label_map=label_map, dicom_copy=Path("copy")) is None
        )
        if copy_would_do:
            dicom_copy = self.ask_dicom_copy(reason)
            if dicom_copy is None:
                return
            reason = None
        if reason is not None:
            window.show_error(f"Cannot export as {FORMAT_TITLES[fmt][0]}", reason)
            return
        if path is None:
            path = self.ask_export_path(fmt, f"{scan.name or 'scan'} annotation")
            if path is None:
                return
        self._run_export(fmt, Path(path), scan, label_map, boxes, labels, dicom_copy)

    def annotation_on_screen(self) -> tuple[Scan | None, LabelMap | None, list[Box], object]:
        """``(scan, label map, boxes, box labels)``: the annotation being edited, else the selected
        labels layer, and the boxes of every shapes layer."""
        viewer = self.window.viewer
        layer = self.window.scan_layer
        scan = scan_from_layer(layer) if layer is not None else None
        annotate = self.window.panels.get("Annotate")
        label_map = annotate.editor.label_map if annotate is not None and annotate.editor else None
        active = viewer.layers.selection.active
        if label_map is None and isinstance(active, Labels):
            label_map = label_map_from_layer(active)
        labels = label_map.labels if label_map is not None else None
        boxes = [
            box
            for each in viewer.layers
            if isinstance(each, Shapes)
            for box in boxes_from_layer(each, labels)
        ]
        return scan, label_map, boxes, labels

    def ask_save_target(self, annotation: OpenAnnotation) -> tuple[str, Path] | None:
        """The Annotate panel's Save outside a workspace: one dialog offering every format."""
        from medview.annotations.export import format_from_path

        patterns = {pattern: fmt for fmt, (_, pattern, _) in FORMAT_TITLES.items()}
        path, chosen = QFileDialog.getSaveFileName(
            self.window, "Save annotation", f"{annotation.name}.nii.gz", ";;".join(patterns)
        )
        if not path:
            return None
        return patterns.get(chosen) or format_from_path(path), Path(path)

    def ask_export_path(self, fmt: str, name: str) -> Path | None:
        title, pattern, suffix = FORMAT_TITLES[fmt]
        path, _ = QFileDialog.getSaveFileName(self.window, f"Export as {title}", f"{name}{suffix}", pattern)
        return Path(path) if path else None

    def ask_dicom_copy(self, reason: str) -> Path | None:
        """The folder for a DICOM copy of the scan (SEG and RTSTRUCT must reference DICOM images)."""
        answer = QMessageBox.question(
            self.window,
            "The scan is not DICOM",
            f"{reason}\n\nWrite a DICOM copy of the scan first, for the export to reference?",
        )
        if answer != QMessageBox.StandardButton.Yes:
            return None
        folder = QFileDialog.getExistingDirectory(self.window, "An empty folder for the DICOM copy")
        return Path(folder) if folder else None

    def _run_export(self, fmt, path, scan, label_map, boxes, labels, dicom_copy) -> None:
        from medview.annotations.export import export_annotation

        window = self.window

        def write(progress: ProgressCallback, cancel: CancelToken) -> list[Path]:
            return export_annotation(
                fmt,
                path,
                scan,
                label_map=label_map,
                boxes=boxes or None,
                box_labels=labels,
                dicom_copy=dicom_copy,
            )

        def written(paths: list[Path]) -> None:
            window.statusBar().showMessage("Exported " + ", ".join(str(p) for p in paths), 30_000)

        def failed(error: BaseException) -> None:
            if not isinstance(error, Cancelled):
                window.show_error(f"Could not export {path.name}", opening_error_text(path, error))

        window.task_bar.start(write, written, on_error=failed, description=f"Exporting {path.name}")

    # ------------------------------------------------------------------ open over
    def open_segmentation(self, path: str | Path, resample: bool = False) -> None:
        """Lay the annotation in ``path`` over the open scan (in a worker)."""
        from medview.annotations.nifti import AnnotationMismatchError
        from medview.annotations.open_over import open_annotation

        window, path = self.window, Path(path)
        layer = window.scan_layer
        scan = scan_from_layer(layer) if layer is not None else None
        if scan is None:
            window.show_error(
                f"Could not open {path.name}",
                "Open the scan first: a segmentation is laid over the open scan.",
            )
            return

        def read(progress: ProgressCallback, cancel: CancelToken) -> tuple[Layer, list[str]]:
            opened = open_annotation(path, scan, resample=resample)
            if opened.label_map is not None:
                built = Layer.create(*label_map_layer_data(opened.label_map, opened.name))
                built.metadata[EDITING_KEY] = True  # the user opened it to work on it
            else:
                built = Layer.create(
                    *boxes_layer_data(opened.boxes, opened.box_labels, scan.geometry, opened.name)
                )
            return built, list(opened.warnings)

        def show(result: tuple[Layer, list[str]]) -> None:
            built, warnings = result
            check_drawable(window.qt_viewer, built)
            window.viewer.layers.append(built)
            window.viewer.layers.selection.active = built
            if warnings:
                QMessageBox.warning(window, f"{path.name}: check this segmentation", "\n".join(warnings))

        def failed(error: BaseException) -> None:
            if isinstance(error, Cancelled):
                return
            misfit = getattr(error, "misfit", None)
            if isinstance(error, AnnotationMismatchError) and misfit is not None and misfit.overlaps:
                if self.ask_resample(path, opening_error_text(path, error)):
                    self.open_segmentation(path, resample=True)
                return
            window.show_error(f"Could not open {path.name} over the scan", opening_error_text(path, error))

        window.task_bar.start(read, show, on_error=failed, description=f"Opening {path.name}")

    def ask_open_segmentation(self) -> None:
        if self.window.refuse_while_busy():
            return
        path, _ = QFileDialog.getOpenFileName(
            self.window,
            "Open a segmentation over the scan",
            "",
            "Segmentations (*.nii *.nii.gz *.nrrd *.mha *.mhd *.dcm *.json *.geojson);;All files (*)",
        )
        if path:
            self.open_segmentation(path)

    def ask_resample(self, path: Path, text: str) -> bool:
        """True when the user wants the misfit annotation resampled onto the scan's grid."""
        answer = QMessageBox.question(
            self.window,
            f"{path.name} does not fit the scan",
            f"{text}\n\nResample it nearest-neighbour onto the scan's grid?",
        )
        return answer == QMessageBox.StandardButton.Yes
