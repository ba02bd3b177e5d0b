"""The annotation editor: one label map, its undo history and the tools, with no GUI.

The Qt panel calls these methods and listens for changes; tests and scripts call them directly.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np

from medview.annotations import tools
from medview.annotations.history import Edit, History, Region, diff_edit
from medview.core.scan import LabelMap, Scan

ChangeListener = Callable[[Region], None]


class AnnotationEditor:
    """Edits ``label_map.array`` in place and keeps every edit undoable.

    Attributes:
        label_map: the annotation being edited; its provenance becomes ``user`` or
            ``model+user`` on the first edit.
        scan: the scan it annotates, for intensity-limited tools and mm brush radii.
        history: the undo/redo stacks.
        revision: grows by one on every change, undo and redo (autosave compares it).
    """

    def __init__(self, label_map: LabelMap, scan: Scan | None = None, history: History | None = None) -> None:
        if scan is not None and not label_map.fits(scan):
            raise ValueError("the label map does not lie on the scan's voxel grid")
        self.label_map = label_map
        self.scan = scan
        self.history = history or History()
        self.revision = 0
        self._listeners: list[ChangeListener] = []
        self._provenance_updated = False

    @property
    def array(self) -> np.ndarray:
        return self.label_map.array

    def add_listener(self, listener: ChangeListener) -> None:
        """Call ``listener(region)`` after every change of the array."""
        self._listeners.append(listener)

    def paint(
        self,
        center: Sequence[float],
        radius_mm: float,
        value: int,
        plane_axis: int | None = None,
        intensity_range: tools.IntensityRange | None = None,
    ) -> Edit | None:
        """Paint a ball (or a disc in the plane of ``plane_axis``) of radius in mm; 0 erases."""
        change = tools.paint(
            self.array,
            center,
            radius_mm,
            value,
            spacing=self.label_map.geometry.spacing,
            plane_axis=plane_axis,
            intensity=self._intensity(intensity_range),
            intensity_range=intensity_range,
        )
        return self.apply(change, "erase" if value == 0 else "paint")

    def fill(
        self,
        seed: Sequence[int],
        value: int,
        plane_axis: int | None = None,
        intensity_range: tools.IntensityRange | None = None,
    ) -> Edit | None:
        """Flood-fill the connected region around ``seed``, in its slice when ``plane_axis`` is set."""
        change = tools.fill(
            self.array, seed, value, plane_axis, self._intensity(intensity_range), intensity_range
        )
        return self.apply(change, "fill")

    def interpolate(self, value: int, axis: int = 0) -> Edit | None:
        """Fill the slices between annotated slices of ``value`` along ``axis``."""
        return self.apply(self.interpolation(value, axis), "interpolate")

    def interpolation(self, value: int, axis: int = 0) -> tools.Change:
        """The change :meth:`interpolate` would make, computed without touching the array (thread-safe)."""
        return tools.interpolate_slices(self.array, value, axis, self.label_map.geometry.spacing)

    def remove_islands(self, min_voxels: int, value: int | None = None) -> Edit | None:
        """Erase connected pieces smaller than ``min_voxels`` (of one label, or of all)."""
        return self.apply(self.island_removal(min_voxels, value), "remove islands")

    def island_removal(self, min_voxels: int, value: int | None = None) -> tools.Change:
        """The change :meth:`remove_islands` would make, computed without touching the array."""
        return tools.remove_small_islands(self.array, min_voxels, value)

    def apply(self, change: tools.Change, description: str = "") -> Edit | None:
        """Write a tool's change into the label map and record it; ``None`` when nothing changed."""
        edit = diff_edit(change.region, self.array[change.region], change.values, description)
        if edit is None:
            return None
        self.array[change.region] = change.values
        self.record(edit)
        return edit

    def record(self, edit: Edit, intensity_range: tools.IntensityRange | None = None) -> Edit | None:
        """Record an edit that something else (e.g. napari's own brush) already applied.

        With ``intensity_range`` the voxels of the edit whose scan value lies outside the range
        are put back first, so napari's brush also paints only e.g. within a HU window.
        """
        if intensity_range is not None:
            edit = self._limit_to_intensity(edit, intensity_range)
            if edit is None:
                return None
        self.history.push(edit)
        if not self._provenance_updated:
            self.label_map.provenance = self.label_map.provenance.edited_by_user()
            self._provenance_updated = True
        self._changed(edit.region)
        return edit

    def undo(self) -> Edit | None:
        """Revert the latest edit."""
        edit = self.history.undo(self.array)
        if edit is not None:
            self._changed(edit.region)
        return edit

    def redo(self) -> Edit | None:
        """Re-apply the latest undone edit."""
        edit = self.history.redo(self.array)
        if edit is not None:
            self._changed(edit.region)
        return edit

    def _changed(self, region: Region) -> None:
        self.revision += 1
        for listener in self._listeners:
            listener(region)

    def _limit_to_intensity(self, edit: Edit, intensity_range: tools.IntensityRange) -> Edit | None:
        intensity = self._intensity(intensity_range)
        points = np.unravel_index(edit.indices, self.array[edit.region].shape)
        values = np.asarray(intensity[edit.region])[points]
        inside = (values >= intensity_range[0]) & (values <= intensity_range[1])
        if inside.all():
            return edit
        self.array[edit.region][tuple(axis[~inside] for axis in points)] = edit.old[~inside]
        if not inside.any():
            self._changed(edit.region)
            return None
        return Edit(edit.region, edit.indices[inside], edit.old[inside], edit.new[inside], edit.description)

    def _intensity(self, intensity_range: tools.IntensityRange | None) -> np.ndarray | None:
        if intensity_range is None:
            return None
        if self.scan is None or self.scan.rgb or self.scan.has_time_axis:
            raise ValueError("painting within an intensity range needs a single-channel scan")
        return self.scan.array
