"""Undo/redo for label maps that stores only the voxels an edit changed.

Each :class:`Edit` keeps the bounding box of the change, the flat indices of the changed voxels
inside that box and their old and new values, so its memory grows with the edited region and
never with the volume: painting a 20-voxel brush into a 512x512x300 map costs a few kilobytes.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass

import numpy as np

Region = tuple[slice, ...]
DEFAULT_MAX_BYTES = 256 * 1024**2


@dataclass(frozen=True)
class Edit:
    """One undoable change: voxels ``indices`` (flat, within ``region``) went from ``old`` to ``new``."""

    region: Region
    indices: np.ndarray
    old: np.ndarray
    new: np.ndarray
    description: str = ""

    @property
    def nbytes(self) -> int:
        return int(self.indices.nbytes + self.old.nbytes + self.new.nbytes)

    @property
    def voxel_count(self) -> int:
        return int(self.indices.size)

    def apply(self, array: np.ndarray, forward: bool) -> None:
        """Write the new (``forward``) or old values back into ``array`` in place."""
        view = array[self.region]  # basic slicing: a view, so fancy assignment writes through
        view[np.unravel_index(self.indices, view.shape)] = self.new if forward else self.old


def diff_edit(region: Region, before: np.ndarray, after: np.ndarray, description: str = "") -> Edit | None:
    """The :class:`Edit` between two crops of the same ``region``; ``None`` when nothing changed."""
    changed = np.flatnonzero(before != after)
    if changed.size == 0:
        return None
    index_type = np.int32 if before.size < 2**31 else np.int64
    return Edit(
        region,
        changed.astype(index_type),
        before.reshape(-1)[changed].copy(),
        after.reshape(-1)[changed].copy(),
        description,
    )


def edit_from_voxels(
    shape: tuple[int, ...], flat_indices: np.ndarray, old: np.ndarray, new: np.ndarray, description: str = ""
) -> Edit | None:
    """An :class:`Edit` from a sequence of voxel writes (flat indices into an array of ``shape``).

    A voxel written several times (overlapping dabs of one brush stroke) keeps its first old value
    and its last new value; voxels that end where they started are dropped.
    """
    flat_indices = np.asarray(flat_indices, dtype=np.int64).ravel()
    if flat_indices.size == 0:
        return None
    old = np.broadcast_to(old, flat_indices.shape)
    new = np.broadcast_to(new, flat_indices.shape)
    unique, first = np.unique(flat_indices, return_index=True)
    _, last_reversed = np.unique(flat_indices[::-1], return_index=True)
    old, new = old[first], new[flat_indices.size - 1 - last_reversed]
    keep = old != new
    if not keep.any():
        return None
    points = np.unravel_index(unique[keep], shape)
    start = [int(axis.min()) for axis in points]
    stop = [int(axis.max()) + 1 for axis in points]
    region = tuple(slice(a, b) for a, b in zip(start, stop, strict=True))
    local = np.ravel_multi_index(
        tuple(axis - a for axis, a in zip(points, start, strict=True)),
        [b - a for a, b in zip(start, stop, strict=True)],
    )
    index_type = np.int32 if local.max() < 2**31 else np.int64
    return Edit(region, local.astype(index_type), old[keep].copy(), new[keep].copy(), description)


class History:
    """Undo and redo stacks of :class:`Edit`, bounded in bytes (the oldest edits are dropped first)."""

    def __init__(self, max_bytes: int = DEFAULT_MAX_BYTES) -> None:
        self.max_bytes = max_bytes
        self._undo: deque[Edit] = deque()
        self._redo: deque[Edit] = deque()

    def push(self, edit: Edit) -> None:
        """Record an edit that has already been applied; clears the redo stack."""
        self._undo.append(edit)
        self._redo.clear()
        while len(self._undo) > 1 and self.nbytes > self.max_bytes:
            self._undo.popleft()

    def undo(self, array: np.ndarray) -> Edit | None:
        """Revert the latest edit in ``array``; returns it, or ``None`` when there is nothing to undo."""
        if not self._undo:
            return None
        edit = self._undo.pop()
        edit.apply(array, forward=False)
        self._redo.append(edit)
        return edit

    def redo(self, array: np.ndarray) -> Edit | None:
        """Re-apply the latest undone edit; returns it, or ``None`` when there is nothing to redo."""
        if not self._redo:
            return None
        edit = self._redo.pop()
        edit.apply(array, forward=True)
        self._undo.append(edit)
        return edit

    def clear(self) -> None:
        self._undo.clear()
        self._redo.clear()

    @property
    def can_undo(self) -> bool:
        return bool(self._undo)

    @property
    def can_redo(self) -> bool:
        return bool(self._redo)

    @property
    def nbytes(self) -> int:
        """Memory held by both stacks, in bytes."""
        return sum(edit.nbytes for edit in self._undo) + sum(edit.nbytes for edit in self._redo)
