"""Slide tiles that fail to decode when first read: shown as a checkerboard and recorded, never raised.

A slide is read tile by tile long after it was opened, on dask's threads under napari's slicing
thread, where an exception would stop the display. So a tile that cannot be decoded becomes a
grey-and-dark checkerboard (it reads as "missing", not as tissue), and the error, naming the file
and the tile, is recorded on the scan's :class:`TileErrors` (``scan.metadata["tile_errors"]``),
which the GUI watches to tell the user once.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from pathlib import Path

import dask.array as da
import numpy as np

CHECKER_PIXELS = 16
_GREY, _DARK = 0.55, 0.25  # fractions of the dtype's range
_LIMIT = 1000

ReadRegion = Callable[[tuple[slice, ...]], np.ndarray]


class TileErrors:
    """The decoding errors of one slide's tiles, each once, in the order they happened.

    Thread-safe: tiles are read on dask's worker threads. Subscribers are called on the thread that
    read the tile, once per new error, so a GUI must hand the call over to its own thread.
    """

    def __init__(self, source: str | Path, limit: int = _LIMIT) -> None:
        self.source = Path(source)
        self._limit = limit
        self._errors: list[str] = []
        self._seen: set[str] = set()
        self._callbacks: list[Callable[[str], None]] = []
        self._lock = threading.Lock()

    def record(self, message: str) -> None:
        """Add an error (a line naming the file and the tile); repeats of one are ignored."""
        with self._lock:
            if message in self._seen or len(self._errors) >= self._limit:
                return
            self._seen.add(message)
            self._errors.append(message)
            callbacks = list(self._callbacks)
        for callback in callbacks:
            callback(message)

    def errors(self) -> list[str]:
        """A copy of the errors so far."""
        with self._lock:
            return list(self._errors)

    def subscribe(self, callback: Callable[[str], None]) -> Callable[[], None]:
        """Call ``callback(message)`` for each new error; returns the function that unsubscribes."""
        with self._lock:
            self._callbacks.append(callback)

        def unsubscribe() -> None:
            with self._lock:
                if callback in self._callbacks:
                    self._callbacks.remove(callback)

        return unsubscribe

    def __len__(self) -> int:
        with self._lock:
            return len(self._errors)

    def __repr__(self) -> str:
        return f"TileErrors({self.source.name!r}, {len(self)} errors)"


def missing_tile(shape: Sequence[int], dtype: np.dtype, spatial: tuple[int, int] = (0, 1)) -> np.ndarray:
    """A grey-and-dark checkerboard of ``shape``; ``spatial`` names the row and column axes."""
    dtype = np.dtype(dtype)
    rows = np.arange(shape[spatial[0]]) // CHECKER_PIXELS
    columns = np.arange(shape[spatial[1]]) // CHECKER_PIXELS
    dark = ((rows[:, None] + columns[None, :]) % 2).astype(bool)
    if dtype.kind == "b":
        grey, low = True, False
    elif dtype.kind in "iu":
        top = np.iinfo(dtype).max
        grey, low = dtype.type(top * _GREY), dtype.type(top * _DARK)
    else:
        grey, low = dtype.type(_GREY), dtype.type(_DARK)
    plane = np.where(dark, low, grey).astype(dtype)
    index = [np.newaxis] * len(shape)
    index[spatial[0]], index[spatial[1]] = slice(None), slice(None)
    return np.ascontiguousarray(np.broadcast_to(plane[tuple(index)], tuple(shape)))


def guarded_level(
    read: ReadRegion,
    shape: Sequence[int],
    chunks: Sequence[int],
    dtype: np.dtype,
    errors: TileErrors,
    level: int,
    expected: tuple[type[BaseException], ...],
    spatial: tuple[int, int] = (0, 1),
) -> da.Array:
    """A dask array of one pyramid level, one block per tile, each read by ``read(region)``.

    A block whose read raises one of ``expected`` (what the decoder raises on damaged data) is the
    checkerboard instead, and the error is recorded naming the file, the level and the tile.
    """
    tile_rows, tile_columns = chunks[spatial[0]], chunks[spatial[1]]
    name = errors.source.name

    def read_block(block_info=None) -> np.ndarray:
        location = block_info[None]["array-location"]
        region = tuple(slice(start, stop) for start, stop in location)
        try:
            return np.asarray(read(region), dtype=dtype)
        except expected as error:
            (y0, y1), (x0, x1) = location[spatial[0]], location[spatial[1]]
            reason = " ".join(str(error).split())[:200] or type(error).__name__
            errors.record(
                f"{name}: level {level}, tile at row {y0 // tile_rows}, column {x0 // tile_columns} "
                f"(pixels y {y0}-{y1}, x {x0}-{x1}) cannot be decoded ({type(error).__name__}: {reason}); "
                "shown as a checkerboard"
            )
            return missing_tile([stop - start for start, stop in location], dtype, spatial)

    block_chunks = da.core.normalize_chunks(tuple(chunks), tuple(shape))
    return da.map_blocks(
        read_block, dtype=dtype, chunks=block_chunks, meta=np.empty((0,) * len(shape), dtype)
    )


def first_region(shape: Sequence[int], chunks: Sequence[int]) -> tuple[slice, ...]:
    """The region of the first tile of a level."""
    return tuple(slice(0, min(chunk, size)) for size, chunk in zip(shape, chunks, strict=True))
