"""Where each voxel of a scan lies in the patient: the single source of truth is one affine.

Conventions (see docs/architecture.md):
- array indices are in numpy/napari order, ``(z, y, x)`` for volumes and ``(y, x)`` for 2D;
- world coordinates are DICOM/ITK patient coordinates (LPS) in millimetres, *listed in the same
  reversed order* as the array axes: ``(S, P, L)`` for volumes, ``(P, L)`` for 2D. With this order
  an axis-aligned scan's affine is ``diag(spacing)`` plus ``origin``, exactly napari's ``scale`` and
  ``translate``, so the viewer needs no axis shuffling.

Spacing, origin and direction are derived from the affine and never stored beside it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

_ATOL_MM = 1e-4


@dataclass(frozen=True, eq=False)
class Geometry:
    """An ``(n+1) x (n+1)`` affine from array index to world millimetres (LPS, array order).

    Attributes:
        affine: homogeneous matrix; column ``i`` of its top-left block is the step in world
            coordinates made by one voxel along array axis ``i``.
    """

    affine: np.ndarray

    def __post_init__(self) -> None:
        affine = np.array(self.affine, dtype=np.float64)
        n = affine.shape[0] - 1
        if affine.shape != (n + 1, n + 1) or n < 1:
            raise ValueError(f"affine must be square (n+1)x(n+1), got {affine.shape}")
        if not np.allclose(affine[n], np.eye(n + 1)[n]):
            raise ValueError("affine's last row must be (0, ..., 0, 1)")
        if abs(np.linalg.det(affine[:n, :n])) < 1e-12:
            raise ValueError("affine is singular: spacing must be non-zero along every axis")
        affine.setflags(write=False)
        object.__setattr__(self, "affine", affine)

    @classmethod
    def from_spacing(
        cls,
        spacing: Sequence[float],
        origin: Sequence[float] | None = None,
        direction: np.ndarray | None = None,
    ) -> Geometry:
        """Build from spacing and origin (array order, mm) and a direction matrix.

        ``direction`` has one unit column per array axis, in world (array-ordered LPS) terms;
        identity when omitted.
        """
        spacing = np.asarray(spacing, dtype=np.float64)
        n = spacing.size
        origin = np.zeros(n) if origin is None else np.asarray(origin, dtype=np.float64)
        direction = np.eye(n) if direction is None else np.asarray(direction, dtype=np.float64)
        if origin.shape != (n,) or direction.shape != (n, n):
            raise ValueError("spacing, origin and direction must agree in dimension")
        affine = np.eye(n + 1)
        affine[:n, :n] = direction * spacing[np.newaxis, :]
        affine[:n, n] = origin
        return cls(affine)

    @classmethod
    def identity(cls, ndim: int) -> Geometry:
        """Unit spacing, zero origin: for images that carry no physical geometry."""
        return cls(np.eye(ndim + 1))

    @property
    def ndim(self) -> int:
        """Number of spatial axes."""
        return self.affine.shape[0] - 1

    @property
    def spacing(self) -> tuple[float, ...]:
        """Voxel size along each array axis, in mm."""
        return tuple(float(v) for v in np.linalg.norm(self._linear, axis=0))

    @property
    def origin(self) -> tuple[float, ...]:
        """World position of the centre of voxel ``(0, ..., 0)``, in mm."""
        return tuple(float(v) for v in self.affine[: self.ndim, self.ndim])

    @property
    def direction(self) -> np.ndarray:
        """Unit vector of each array axis (columns), in world coordinates."""
        return self._linear / np.linalg.norm(self._linear, axis=0)[np.newaxis, :]

    @property
    def is_axis_aligned(self) -> bool:
        """True when the direction matrix is diagonal with positive entries."""
        return bool(np.allclose(self.direction, np.eye(self.ndim), atol=1e-6))

    def index_to_world(self, index: Sequence[float] | np.ndarray) -> np.ndarray:
        """World coordinates (mm) of array indices; accepts one point or an ``(N, ndim)`` array."""
        points = np.asarray(index, dtype=np.float64)
        return points @ self._linear.T + self.affine[: self.ndim, self.ndim]

    def world_to_index(self, world: Sequence[float] | np.ndarray) -> np.ndarray:
        """Fractional array indices of world points (mm); the inverse of ``index_to_world``."""
        points = np.asarray(world, dtype=np.float64) - self.affine[: self.ndim, self.ndim]
        return points @ np.linalg.inv(self._linear).T

    def matches(self, other: Geometry, atol_mm: float = _ATOL_MM) -> bool:
        """True when both describe the same voxel grid, to ``atol_mm`` millimetres."""
        return self.ndim == other.ndim and bool(np.allclose(self.affine, other.affine, atol=atol_mm, rtol=0))

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Geometry) and self.matches(other)

    def __hash__(self) -> int:
        return hash(np.round(self.affine, 4).tobytes())

    def __repr__(self) -> str:
        spacing = ", ".join(f"{s:g}" for s in self.spacing)
        origin = ", ".join(f"{o:g}" for o in self.origin)
        return f"Geometry(spacing=({spacing}), origin=({origin}), aligned={self.is_axis_aligned})"

    @property
    def _linear(self) -> np.ndarray:
        return self.affine[: self.ndim, : self.ndim]
