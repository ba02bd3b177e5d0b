"""The data model of medview: scans, label maps, geometry, label tables, progress. numpy only."""

from medview.core.boxes import Box
from medview.core.errors import InputError, MedviewError
from medview.core.geometry import Geometry
from medview.core.labels import LabelClass, LabelTable
from medview.core.progress import Cancelled, CancelToken, ProgressCallback
from medview.core.provenance import Provenance
from medview.core.scan import LabelMap, Scan, Window

__all__ = [
    "Box",
    "Cancelled",
    "CancelToken",
    "Geometry",
    "InputError",
    "LabelClass",
    "LabelMap",
    "LabelTable",
    "MedviewError",
    "ProgressCallback",
    "Provenance",
    "Scan",
    "Window",
]
