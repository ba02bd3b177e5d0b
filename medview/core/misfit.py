"""How an annotation's voxel grid differs from its scan's, said the way the viewer shows the scan.

An annotation lies on its scan only when shape, spacing, direction and origin all agree.
:func:`describe_misfit` names the difference a person can act on, with sizes, spacing and positions
in patient terms, x, y, z (LPS: towards the patient's left, back and head), not in array order, and
in the scan's unit. Flipping an axis moves the first voxel to the far end of that axis, so a mirrored
grid is named as mirrored, never as a moved origin. ``overlaps`` says whether nearest-neighbour
resampling would keep any of the annotation: the only case in which offering it makes sense.

It lives in the core, not beside the annotation formats, because reading a label map
(``medview.io``) already needs it.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

import numpy as np

from medview.core.geometry import Geometry
from medview.core.scan import Scan

MisfitKind = Literal["dimensions", "shape", "spacing", "mirrored", "direction", "origin"]
_ATOL_MM = 1e-4  # the tolerance of Geometry.matches
_UNIT = {"mm": "mm", "um": "µm", "pixel": "px"}
_MIRRORED = {
    2: ("left-right (x)", "top-bottom (y)"),
    3: ("left-right (x)", "front-back (y)", "head-foot (z)"),
}


@dataclass(frozen=True)
class Misfit:
    """Why an annotation does not lie on its scan's voxel grid.

    Attributes:
        kind: the main difference: ``dimensions`` (2D against 3D), ``mirrored`` or ``direction``
            (axes point other ways), ``spacing``, ``shape`` (number of voxels) or ``origin``.
        message: one or two sentences for the user, without a final full stop.
        overlaps: the annotation's world bounding box overlaps the scan's, so nearest-neighbour
            resampling onto the scan would keep part of it.
    """

    kind: MisfitKind
    message: str
    overlaps: bool


def describe_misfit(shape: Sequence[int], geometry: Geometry, scan: Scan) -> Misfit | None:
    """How an annotation of ``shape`` on ``geometry`` differs from ``scan``'s grid; ``None`` if it fits."""
    shape = tuple(int(size) for size in shape)
    target, scan_shape = scan.geometry, scan.spatial_shape
    if len(shape) != target.ndim or geometry.ndim != target.ndim:
        message = (
            f"the annotation is {len(shape)}D, {_size(shape)} {_cells(shape)}, but the scan is "
            f"{target.ndim}D, {_size(scan_shape)} {_cells(scan_shape)}"
        )
        return Misfit("dimensions", message, overlaps=False)
    if shape == scan_shape and geometry.matches(target):
        return None
    # Tolerances chosen so that a grid within both of them passes Geometry.matches.
    largest = max(*geometry.spacing, *target.spacing)
    direction_differs = not np.allclose(
        geometry.direction, target.direction, atol=_ATOL_MM / (2 * largest), rtol=0
    )
    spacing_differs = not np.allclose(geometry.spacing, target.spacing, atol=_ATOL_MM / 2, rtol=0)
    shape_differs = shape != scan_shape
    overlaps = _overlaps(shape, geometry, scan_shape, target)
    unit = _UNIT[scan.units]
    if direction_differs:
        cosines = np.sum(geometry.direction * target.direction, axis=0)
        flipped = [axis for axis, cosine in enumerate(cosines) if cosine < 0]
        if np.allclose(np.abs(cosines), 1.0, atol=1e-6, rtol=0):
            kind: MisfitKind = "mirrored"
            message = f"the annotation is mirrored {_mirrored_axes(flipped, target)} compared with the scan"
        else:
            kind = "direction"
            angle = float(np.degrees(np.arccos(np.clip(cosines, -1.0, 1.0))).max())
            message = f"the annotation is rotated by {_degrees(angle)} degrees compared with the scan"
        message += _also(spacing_differs, shape_differs, len(shape))
    elif spacing_differs:
        kind = "spacing"
        mine, theirs = _numbers(geometry.spacing, target.spacing)
        message = (
            f"the annotation's {_cells(shape)} are {mine} {unit} {_axes(len(shape))} but the scan's are "
            f"{theirs} {unit} {_axes(len(shape))}"
        )
        if shape_differs:
            message += f"; it is {_size(shape)} {_cells(shape)}, the scan {_size(scan_shape)}"
    elif shape_differs:
        kind = "shape"
        message = f"the annotation is {_size(shape)} {_cells(shape)} but the scan is {_size(scan_shape)}"
        if not np.allclose(geometry.origin, target.origin, atol=_ATOL_MM, rtol=0):
            message += f"; it is also {_shift(geometry, target, unit)}"
    else:
        kind = "origin"
        mine, theirs = _numbers(geometry.origin, target.origin, ", ")
        names = _names(len(shape))
        message = (
            f"the annotation is {_shift(geometry, target, unit)}: its first {_cells(shape)[:-1]} is at "
            f"({names}) = ({mine}) {unit}, the scan's at ({names}) = ({theirs}) {unit}"
        )
    if not overlaps:
        message += "; it lies entirely outside the scan"
    return Misfit(kind, message, overlaps)


def _overlaps(
    shape: tuple[int, ...], geometry: Geometry, scan_shape: tuple[int, ...], target: Geometry
) -> bool:
    """True when the world bounding boxes of the two grids (voxel edges) share some volume."""
    low, high = _world_box(shape, geometry)
    scan_low, scan_high = _world_box(scan_shape, target)
    return bool(np.all(np.minimum(high, scan_high) - np.maximum(low, scan_low) > 1e-6))


def _world_box(shape: tuple[int, ...], geometry: Geometry) -> tuple[np.ndarray, np.ndarray]:
    corners = np.array(list(itertools.product(*[(-0.5, size - 0.5) for size in shape])))
    world = geometry.index_to_world(corners)
    return world.min(axis=0), world.max(axis=0)


def _shift(geometry: Geometry, target: Geometry, unit: str) -> str:
    """``shifted by 5.00 mm (x +5.00)``: how far the first voxel moved, per patient axis."""
    offset = np.subtract(geometry.origin, target.origin)[::-1]
    parts = [
        f"{name} {value:+.2f}" for name, value in zip(_names(len(offset)).split(", "), offset, strict=True)
    ]
    moved = [part for part, value in zip(parts, offset, strict=True) if abs(value) >= 0.005] or parts
    return f"shifted by {np.linalg.norm(offset):.2f} {unit} ({', '.join(moved)})"


def _mirrored_axes(flipped: list[int], target: Geometry) -> str:
    """The patient axes along which the scan's array axes ``flipped`` run, in words, x first."""
    n = target.ndim
    # Array-ordered world axis j is patient axis n - 1 - j (x is the last world coordinate).
    axes = sorted(n - 1 - int(np.argmax(np.abs(target.direction[:, axis]))) for axis in flipped)
    names = [_MIRRORED[n][axis] for axis in axes]
    return names[0] if len(names) == 1 else ", ".join(names[:-1]) + " and " + names[-1]


def _also(spacing_differs: bool, shape_differs: bool, ndim: int) -> str:
    """``; its voxel size differs too``: what else differs, after a difference of direction."""
    cell = "voxel" if ndim == 3 else "pixel"
    others = [
        name
        for name, differs in ((f"{cell} size", spacing_differs), (f"number of {cell}s", shape_differs))
        if differs
    ]
    return f"; its {' and '.join(others)} differ{'s' if len(others) == 1 else ''} too" if others else ""


def _size(shape: Sequence[int]) -> str:
    """``197 x 233 x 189 (x, y, z)``: the number of voxels as the viewer lists them, x first."""
    return f"{' x '.join(str(size) for size in reversed(shape))} {_axes(len(shape))}"


def _numbers(mine: Sequence[float], theirs: Sequence[float], separator: str = " x ") -> tuple[str, str]:
    """Both lists (array order) in patient order, with enough decimals to tell them apart."""
    for decimals in range(2, 7):
        shown = tuple(
            separator.join(f"{value:.{decimals}f}" for value in reversed(values)) for values in (mine, theirs)
        )
        if shown[0] != shown[1]:
            break
    return shown


def _cells(shape: Sequence[int]) -> str:
    return "voxels" if len(shape) == 3 else "pixels"


def _axes(ndim: int) -> str:
    return f"({_names(ndim)})"


def _names(ndim: int) -> str:
    return ", ".join(("x", "y", "z")[:ndim])


def _degrees(angle: float) -> str:
    return f"{angle:.0f}" if angle >= 1 else f"{angle:.2g}"
