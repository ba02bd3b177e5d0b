"""napari's paint events as core edits: which voxels one brush call changed, from what to what."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from medview.annotations.history import Edit, edit_from_voxels


def paint_edit(atoms: Sequence[Any], shape: tuple[int, ...]) -> Edit | None:
    """The :class:`Edit` of the history atoms of one napari ``paint`` event on an array of ``shape``."""
    indices, old, new = [], [], []
    for atom in atoms:
        atom_indices, atom_old, atom_new = _voxel_writes(atom)
        indices.append(np.ravel_multi_index(atom_indices, shape))
        old.append(np.broadcast_to(atom_old, indices[-1].shape))
        new.append(np.broadcast_to(atom_new, indices[-1].shape))
    if not indices:
        return None
    return edit_from_voxels(shape, np.concatenate(indices), np.concatenate(old), np.concatenate(new), "brush")


def _voxel_writes(atom: Any) -> tuple[tuple[np.ndarray, ...], np.ndarray, Any]:
    """(multi-index, old values, new values) of one napari history atom, in full-array indices."""
    if not hasattr(atom, "slice_key"):  # data_setitem's (indices, old values, new values)
        indices, old, new = atom
        return (
            tuple(np.asarray(axis).ravel() for axis in indices),
            np.asarray(old).ravel(),
            np.asarray(new).ravel(),
        )
    starts = [region.start or 0 for region in atom.slice_key]
    old = np.asarray(atom.old_values)
    if atom.mask is None:  # the whole box changed and ``old_values`` is the box
        local = tuple(np.indices(old.shape).reshape(old.ndim, -1))
        old = old.ravel()
    else:
        local = np.nonzero(atom.mask)
    return tuple(axis + start for axis, start in zip(local, starts, strict=True)), old, atom.new_value
