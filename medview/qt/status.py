"""The status-line text for the cursor: position in patient coordinates and the pixel value."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from napari.layers import Image

from medview.qt.bridge import patient_position, scan_from_layer

_POSITION_UNITS = {"mm": "mm", "um": "µm", "pixel": "px"}


def cursor_status(layer: Image, world_position: Sequence[float]) -> str:
    """``x, y, z`` (LPS) and the value under the cursor, e.g. ``x -12.0 y 3.4 z 55.0 mm | 40 HU``.

    The position is mapped through the scan's real geometry, so it is the patient position even for
    a scan shown in stored order. Positions read in mm, µm for slides, and ``px`` when the pixel size
    is unknown; the value carries the scan's ``value_unit`` (a bare number when there is none).
    """
    scan = scan_from_layer(layer)
    if scan is None:
        return ""
    spatial = patient_position(layer, world_position)
    names = ("x", "y", "z")[: len(spatial)]
    unit = _POSITION_UNITS.get(scan.units, scan.units)
    where = " ".join(f"{name} {value:.1f}" for name, value in zip(names, reversed(spatial), strict=True))
    value = layer.get_value(world_position, world=True)
    if scan.is_multiscale and isinstance(value, tuple):  # napari gives (level, value)
        value = value[1]
    return f"{where} {unit} | {_format_value(value, scan.value_unit)}"


def _format_value(value: object, unit: str) -> str:
    if value is None:
        return "outside"
    if isinstance(value, (tuple, list, np.ndarray)):
        return "RGB " + ", ".join(str(int(v)) for v in np.ravel(value))
    number = float(value)
    text = f"{number:.0f}" if number.is_integer() else f"{number:.3g}"
    return f"{text} {unit}".strip()
