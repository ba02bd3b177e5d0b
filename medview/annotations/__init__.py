"""Annotation: editing tools with undo proportional to the edit, autosave, and the file formats
(NIfTI, DICOM SEG, RTSTRUCT, COCO, GeoJSON). No Qt."""

from medview.annotations.autosave import Autosaver, Draft, discard, find_drafts, recover
from medview.annotations.editor import AnnotationEditor
from medview.annotations.history import Edit, History
from medview.annotations.nifti import AnnotationMismatchError, load_nifti, save_nifti

__all__ = [
    "AnnotationEditor",
    "AnnotationMismatchError",
    "Autosaver",
    "Draft",
    "Edit",
    "History",
    "discard",
    "find_drafts",
    "load_nifti",
    "recover",
    "save_nifti",
]
