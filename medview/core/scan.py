"""A scan (pixels with their geometry) and a label map that lives on a scan's voxel grid."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, NamedTuple

import numpy as np

from medview.core.geometry import Geometry
from medview.core.labels import LabelTable
from medview.core.provenance import Provenance

UNITS = ("mm", "um", "pixel")
"""What a scan's spacing is measured in; ``pixel`` means the pixel size is unknown."""


@dataclass(frozen=True)
class Window:
    """A display window (level) in the scan's units, e.g. Hounsfield units for CT."""

    center: float
    width: float
    name: str = ""

    @property
    def limits(self) -> tuple[float, float]:
        """(lowest, highest) value shown, as napari's ``contrast_limits``."""
        return (self.center - self.width / 2.0, self.center + self.width / 2.0)


@dataclass(eq=False)
class Scan:
    """Pixels plus where they are.

    Attributes:
        array: numpy or dask array, ``([t,] [z,] y, x[, c])``; for a whole-slide image the
            full-resolution level.
        geometry: affine of the spatial axes (mm, or µm per pixel for slides, see ``units``).
        modality: DICOM modality code (``CT``, ``MR``, ``CR``, ``DX``, ``MG``, ``US``, ``SM``, ``OT``).
        name: what the user sees in lists and layer names.
        rgb: the last axis holds colour channels.
        has_time_axis: the first axis is time (4D volumes).
        levels: for multiscale images, every pyramid level, full resolution first.
        window: the default display window; ``None`` lets the viewer choose.
        units: ``mm`` (radiology), ``um`` (slides) or ``pixel`` when the file gives no pixel size
            (missing, zero or non-numeric PixelSpacing, an uncalibrated photograph, screen dpi):
            the geometry then has unit spacing that means nothing physical, so nothing may be
            shown or measured in mm.
        value_unit: the unit of the pixel values (``HU``, a RescaleType such as ``%`` or ``ml/100g``);
            empty when the file does not say (shown as a bare value).
        source: the file or folder it came from.
        metadata: format-specific facts (series UID, description, ...) for display.
        warnings: problems the user must see, such as irregular slice spacing.
        attached: label maps that came with the file, shown as their own labels layers (DICOM
            overlay planes, a DICOM SEG opened with its referenced series).
    """

    array: Any
    geometry: Geometry
    modality: str = "OT"
    name: str = ""
    rgb: bool = False
    has_time_axis: bool = False
    levels: tuple[Any, ...] = ()
    window: Window | None = None
    units: str = "mm"
    value_unit: str = ""
    source: str | None = None
    metadata: dict[str, Any] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)
    attached: list[AttachedLabels] = field(default_factory=list)

    def __post_init__(self) -> None:
        if self.units not in UNITS:
            raise ValueError(f"units must be one of {', '.join(UNITS)}, not {self.units!r}")
        expected = self.geometry.ndim + int(self.rgb) + int(self.has_time_axis)
        if len(self.array.shape) != expected:
            raise ValueError(
                f"array of shape {tuple(self.array.shape)} does not fit a {self.geometry.ndim}-D "
                f"geometry (rgb={self.rgb}, time axis={self.has_time_axis})"
            )

    @property
    def spatial_shape(self) -> tuple[int, ...]:
        """Shape of the spatial axes only, in array order."""
        start = int(self.has_time_axis)
        return tuple(int(s) for s in self.array.shape[start : start + self.geometry.ndim])

    @property
    def is_multiscale(self) -> bool:
        return len(self.levels) > 1

    @property
    def spacing(self) -> tuple[float, ...]:
        return self.geometry.spacing

    @property
    def spacing_known(self) -> bool:
        """True when the pixel size is a calibration (mm or µm), false for ``units == "pixel"``."""
        return self.units != "pixel"


@dataclass(eq=False)
class LabelMap:
    """An integer array on a scan's voxel grid; ``0`` is background.

    Label maps are only ever resampled nearest-neighbour.
    """

    array: np.ndarray
    geometry: Geometry
    labels: LabelTable = field(default_factory=LabelTable)
    provenance: Provenance = field(default_factory=lambda: Provenance("user"))

    def __post_init__(self) -> None:
        if not np.issubdtype(self.array.dtype, np.integer):
            raise ValueError(f"a label map must hold integers, got {self.array.dtype}")
        if self.array.ndim != self.geometry.ndim:
            raise ValueError(
                f"label map of shape {self.array.shape} does not fit a {self.geometry.ndim}-D geometry"
            )

    def fits(self, scan: Scan) -> bool:
        """True when this label map lies on exactly the scan's voxel grid."""
        return self.array.shape == scan.spatial_shape and self.geometry.matches(scan.geometry)

    def present_values(self) -> list[int]:
        """Non-zero values that occur in the array, ascending."""
        return [int(v) for v in np.unique(self.array) if v != 0]


class AttachedLabels(NamedTuple):
    """A label map that came with a scan's file, and the layer name it is shown under."""

    name: str
    label_map: LabelMap
