"""Reading and writing scans, label maps and boxes. The only place (with the Qt bridge) that
converts between file conventions and medview's array-ordered geometry."""

from medview.io.dicom_series import SeriesInfo
from medview.io.errors import ScanError
from medview.io.open import SUPPORTED_SUFFIXES, BoxSet, list_series, open_label_map, open_scan, read_boxes
from medview.io.writers import write_boxes, write_label_map, write_scan

__all__ = [
    "SUPPORTED_SUFFIXES",
    "BoxSet",
    "ScanError",
    "SeriesInfo",
    "list_series",
    "open_label_map",
    "open_scan",
    "read_boxes",
    "write_boxes",
    "write_label_map",
    "write_scan",
]
