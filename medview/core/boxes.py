"""Detection boxes: ``(label, score, min corner, max corner)`` in array index coordinates of a scan."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Box:
    """An axis-aligned box in array index order (``(y, x)`` or ``(z, y, x)``).

    ``start`` is the min corner (inclusive edge) and ``stop`` the max corner (exclusive edge), in
    fractional voxel units, so a box covering voxels 2..4 along an axis has start 2 and stop 5.
    """

    label: int
    score: float
    start: tuple[float, ...]
    stop: tuple[float, ...]

    def __post_init__(self) -> None:
        if len(self.start) != len(self.stop) or len(self.start) not in (2, 3):
            raise ValueError("a box has 2 or 3 matching start and stop coordinates")
        if any(b < a for a, b in zip(self.start, self.stop, strict=True)):
            raise ValueError(f"box stop {self.stop} lies before its start {self.start}")

    @property
    def ndim(self) -> int:
        return len(self.start)

    @property
    def size(self) -> np.ndarray:
        return np.subtract(self.stop, self.start)

    def to_dict(self) -> dict:
        return {"label": self.label, "score": self.score, "start": list(self.start), "stop": list(self.stop)}

    @classmethod
    def from_dict(cls, data: dict) -> Box:
        try:
            return cls(
                int(data["label"]),
                float(data.get("score", 1.0)),
                tuple(float(v) for v in data["start"]),
                tuple(float(v) for v in data["stop"]),
            )
        except (KeyError, TypeError) as error:
            raise ValueError(f"not a box: {data!r}") from error
