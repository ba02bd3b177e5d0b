"""Editing tools for label maps, as pure functions: each returns the :class:`Change` it would make.

A change is the bounding box of the edit and the new values inside it; the editor applies it and
records the difference for undo. Arrays are in array order (``(z, y, x)`` or ``(y, x)``); a
``plane_axis`` limits a tool to the slice through the given point along that axis (2D editing
of a volume), ``None`` makes it act in 3D.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from scipy import ndimage
from skimage.segmentation import flood

from medview.annotations.history import Region

IntensityRange = tuple[float, float]


@dataclass(frozen=True)
class Change:
    """New values for the voxels of ``region`` (a tuple of concrete slices)."""

    region: Region
    values: np.ndarray


def paint(
    labels: np.ndarray,
    center: Sequence[float],
    radius: float,
    value: int,
    spacing: Sequence[float] | None = None,
    plane_axis: int | None = None,
    intensity: np.ndarray | None = None,
    intensity_range: IntensityRange | None = None,
) -> Change:
    """Paint a ball (3D) or disc (in the plane of ``plane_axis``) of ``value``; ``value=0`` erases.

    Args:
        center: the brush centre, in array indices.
        radius: in mm when ``spacing`` (mm per voxel, array order) is given, otherwise in voxels.
        intensity, intensity_range: when both are given, only voxels whose scan value lies in the
            closed range are painted (e.g. a HU window).
    """
    spacing = np.ones(labels.ndim) if spacing is None else np.asarray(spacing, dtype=float)
    reach = np.floor(radius / spacing).astype(int)
    if plane_axis is not None:
        reach[plane_axis] = 0
    centre = np.rint(np.asarray(center, dtype=float)).astype(int)
    start = np.maximum(centre - reach, 0)
    stop = np.minimum(centre + reach + 1, labels.shape)
    if np.any(stop <= start):
        return _empty_change(labels)
    region = _region(start, stop)
    grids = np.ogrid[tuple(slice(int(a), int(b)) for a, b in zip(start, stop, strict=True))]
    distance = sum(((grid - c) * s) ** 2 for grid, c, s in zip(grids, centre, spacing, strict=True))
    mask = distance <= radius**2 + 1e-9
    mask &= _in_range(intensity, intensity_range, region, mask.shape)
    values = labels[region].copy()
    values[mask] = value
    return Change(region, values)


def fill(
    labels: np.ndarray,
    seed: Sequence[int],
    value: int,
    plane_axis: int | None = None,
    intensity: np.ndarray | None = None,
    intensity_range: IntensityRange | None = None,
) -> Change:
    """Flood-fill the face-connected region of equal label around ``seed`` with ``value``.

    With ``intensity_range`` the fill also stops at voxels whose scan value is outside the range.
    """
    seed = tuple(int(v) for v in seed)
    domain = _plane(labels.shape, seed, plane_axis)
    within = labels[domain] == labels[seed]
    if intensity is not None and intensity_range is not None:
        within &= _in_range(intensity, intensity_range, domain, within.shape)
    local_seed = tuple(s - (d.start or 0) for s, d in zip(seed, domain, strict=True))
    if not within[local_seed]:
        return _empty_change(labels)
    filled = flood(within, local_seed, connectivity=1) & within
    box = ndimage.find_objects(filled.astype(np.uint8))[0]
    region = tuple(slice(d.start + b.start, d.start + b.stop) for d, b in zip(domain, box, strict=True))
    values = labels[region].copy()
    values[filled[box]] = value
    return Change(region, values)


def interpolate_slices(
    labels: np.ndarray, value: int, axis: int, spacing: Sequence[float] | None = None
) -> Change:
    """Fill the gaps between slices annotated with ``value`` along ``axis`` (shape-based interpolation).

    Each annotated slice becomes a signed distance map (negative inside, in mm when ``spacing``
    is given); for an empty slice between two annotated ones the two maps are blended linearly by
    position and the voxels where the blend is <= 0 are painted. Voxels holding another label
    are left alone.
    """
    moved = np.moveaxis(labels, axis, 0)
    in_plane = None if spacing is None else [s for i, s in enumerate(spacing) if i != axis]
    annotated = [k for k in range(moved.shape[0]) if np.any(moved[k] == value)]
    if len(annotated) < 2:
        return _empty_change(labels)
    first, last = annotated[0], annotated[-1]
    block = moved[first : last + 1].copy()
    for lower, upper in zip(annotated, annotated[1:], strict=False):
        if upper - lower < 2:
            continue
        below = _signed_distance(moved[lower] == value, in_plane)
        above = _signed_distance(moved[upper] == value, in_plane)
        for k in range(lower + 1, upper):
            weight = (k - lower) / (upper - lower)
            inside = (1 - weight) * below + weight * above <= 0
            target = block[k - first]
            target[inside & (target == 0)] = value
    region = tuple(slice(first, last + 1) if i == axis else slice(0, n) for i, n in enumerate(labels.shape))
    return Change(region, np.moveaxis(block, 0, axis))


def remove_small_islands(labels: np.ndarray, min_voxels: int, value: int | None = None) -> Change:
    """Set to background every face-connected island of a label smaller than ``min_voxels``.

    ``value`` restricts the clean-up to one label; ``None`` cleans every label.
    """
    removed = np.zeros(labels.shape, dtype=bool)
    values = [value] if value is not None else [int(v) for v in np.unique(labels) if v != 0]
    for label in values:
        components, count = ndimage.label(labels == label)
        if count == 0:
            continue
        sizes = np.bincount(components.ravel())
        small = np.flatnonzero(sizes < min_voxels)
        small = small[small != 0]
        removed |= np.isin(components, small)
    boxes = ndimage.find_objects(removed.astype(np.uint8))
    if not boxes:
        return _empty_change(labels)
    region = tuple(slice(s.start, s.stop) for s in boxes[0])
    values_in_region = labels[region].copy()
    values_in_region[removed[region]] = 0
    return Change(region, values_in_region)


def _signed_distance(mask: np.ndarray, sampling: Sequence[float] | None) -> np.ndarray:
    """Distance to the mask's edge: positive outside, negative inside (mm when ``sampling`` is set)."""
    outside = ndimage.distance_transform_edt(~mask, sampling=sampling)
    inside = ndimage.distance_transform_edt(mask, sampling=sampling)
    return outside - inside


def _in_range(
    intensity: np.ndarray | None, limits: IntensityRange | None, region: Region, shape: tuple[int, ...]
) -> np.ndarray:
    if intensity is None or limits is None:
        return np.ones(shape, dtype=bool)
    crop = np.asarray(intensity[region])
    return (crop >= limits[0]) & (crop <= limits[1])


def _plane(shape: tuple[int, ...], point: tuple[int, ...], plane_axis: int | None) -> Region:
    return tuple(
        slice(point[i], point[i] + 1) if i == plane_axis else slice(0, n) for i, n in enumerate(shape)
    )


def _region(start: Sequence[int], stop: Sequence[int]) -> Region:
    return tuple(slice(int(a), int(b)) for a, b in zip(start, stop, strict=True))


def _empty_change(labels: np.ndarray) -> Change:
    region = tuple(slice(0, 0) for _ in labels.shape)
    return Change(region, labels[region].copy())
