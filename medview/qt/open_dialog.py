"""File > Open's dialog: a file, and whether to lay it over the open scan as a segmentation.

Qt's file dialog with one extra checkbox, "Open as a segmentation over the open scan" (like
ITK-SNAP's separate "Open segmentation"), ticked beforehand when the chosen file looks like one.
"""

from __future__ import annotations

from qtpy.QtWidgets import QCheckBox, QDialog, QFileDialog, QGridLayout, QWidget

SEGMENTATION_TEXT = "Open as a segmentation over the open scan"


def choose_file(parent: QWidget | None, scan_open: bool) -> tuple[str, bool] | None:
    """``(path, as segmentation)`` chosen by the user, or ``None`` when cancelled; the checkbox is
    offered only while a scan is open."""
    dialog = QFileDialog(parent, "Open a scan")
    dialog.setFileMode(QFileDialog.FileMode.ExistingFile)
    dialog.setOption(QFileDialog.Option.DontUseNativeDialog, True)  # the native one takes no widgets
    box = QCheckBox(SEGMENTATION_TEXT)
    box.setEnabled(scan_open)
    box.setToolTip("Label maps (NIfTI, NRRD, MHA), DICOM SEG, COCO boxes or GeoJSON regions of this scan")
    layout = dialog.layout()
    if isinstance(layout, QGridLayout):
        layout.addWidget(box, layout.rowCount(), 0, 1, layout.columnCount())
    if scan_open:
        dialog.currentChanged.connect(lambda path: box.setChecked(_looks_like_segmentation(path)))
    if dialog.exec() != QDialog.DialogCode.Accepted or not dialog.selectedFiles():
        return None
    return dialog.selectedFiles()[0], box.isChecked() and scan_open


def _looks_like_segmentation(path: str) -> bool:
    from medview.annotations.open_over import is_annotation_file

    try:
        return is_annotation_file(path)
    except Exception:  # a guess for a checkbox: a file that cannot be probed is just not ticked
        return False
