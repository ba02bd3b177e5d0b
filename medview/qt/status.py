"""The status-line text for the cursor: position in patient coordinates and the pixel value."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from napari.layers import Image

from medview.qt.bridge import scan_from_layer

_UNITS_OF_MODALITY = {"CT": "HU"}


def cursor_status(layer: Image, world_position: Sequence[float]) -> str:
    """``x, y, z`` in mm (LPS) and the value under the cursor, e.g. ``x -12.0 y 3.4 z 55.0 mm | 40 HU``.

    napari's world coordinates are medview's array-ordered LPS, so the spatial part is reversed to
    read as (x, y, z).
    """
    scan = scan_from_layer(layer)
    if scan is None:
        return ""
    spatial = list(world_position)[-scan.geometry.ndim :]
    names = ("x", "y", "z")[: len(spatial)]
    unit = "µm" if scan.units == "um" else "mm"
    where = " ".join(f"{name} {value:.1f}" for name, value in zip(names, reversed(spatial), strict=True))
    value = layer.get_value(world_position, world=True)
    if scan.is_multiscale and isinstance(value, tuple):  # napari gives (level, value)
        value = value[1]
    return f"{where} {unit} | {_format_value(value, scan.modality)}"


def _format_value(value: object, modality: str) -> str:
    if value is None:
        return "outside"
    if isinstance(value, (tuple, list, np.ndarray)):
        return "RGB " + ", ".join(str(int(v)) for v in np.ravel(value))
    unit = _UNITS_OF_MODALITY.get(modality, "")
    number = float(value)
    text = f"{number:.0f}" if number.is_integer() else f"{number:.3g}"
    return f"{text} {unit}".strip()
