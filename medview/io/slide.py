"""Whole-slide images as lazy multiscale scans: memory stays bounded whatever the slide size.

Pyramidal (OME-)TIFF is read through tifffile's zarr store, the OpenSlide formats (SVS, NDPI, MRXS,
...) through OpenSlide; either way each pyramid level is a dask array whose chunks are decoded only
when napari (or a model) asks for them. Geometry is in microns per pixel (``units='um'``).
"""

from __future__ import annotations

import threading
import weakref
from pathlib import Path
from typing import Literal

import dask.array as da
import numpy as np
import tifffile
import zarr

from medview.core.geometry import Geometry
from medview.core.scan import Scan
from medview.io.errors import ScanError
from medview.io.pixel_checks import TIFF_ERRORS, check_tiff_levels, tiff_levels
from medview.io.tiff_calibration import tiff_microns_per_pixel
from medview.io.tile_errors import TileErrors, first_region, guarded_level

OPENSLIDE_SUFFIXES = (".svs", ".ndpi", ".mrxs", ".scn", ".vms", ".vmu", ".bif", ".svslide")
# A TIFF larger than this on a side is a slide even without a pyramid: it is read lazily.
_LARGE_SIDE = 16384
_OPENSLIDE_CHUNK = 1024

_AXES = ("YXS", "YX", "CYX")

Backend = Literal["auto", "tifffile", "openslide"]


def is_slide_tiff(path: str | Path) -> bool:
    """True when a TIFF is pyramidal or too large to read whole."""
    try:
        with tifffile.TiffFile(path) as tiff:
            series = tiff.series[0]
            return len(series.levels) > 1 or max(series.shape[:2]) > _LARGE_SIDE
    except TIFF_ERRORS:
        return False


def open_slide(path: str | Path, backend: Backend = "auto") -> Scan:
    """A whole-slide image as a lazy multiscale RGB scan, full resolution first.

    ``backend='auto'`` reads TIFF through tifffile and the other formats through OpenSlide.
    The header and the first tile of the full resolution and of the coarsest level are read now;
    a tile that fails to decode later is shown as a checkerboard and recorded on
    ``scan.metadata["tile_errors"]`` (a :class:`~medview.io.tile_errors.TileErrors`).

    Raises:
        ScanError: a file neither reader can open, a header that disagrees with itself or the
            file, a first tile that cannot be decoded, or an unsupported channel layout.
    """
    path = Path(path)
    if path.stat().st_size == 0:
        raise ScanError("the file is empty (0 bytes)", path)
    tile_errors = TileErrors(path)
    if backend == "openslide" or (backend == "auto" and path.suffix.lower() in OPENSLIDE_SUFFIXES):
        levels, mpp = _openslide_levels(path, tile_errors)
        note = ""
    else:
        levels, mpp, note = _tifffile_levels(path, tile_errors)
    warnings = []
    if mpp is None:
        warnings.append(note or "the slide states no pixel size (microns per pixel): it is shown in pixels")
    units = "um" if mpp is not None else "pixel"
    return Scan(
        array=levels[0],
        geometry=Geometry.from_spacing(mpp or (1.0, 1.0)),
        modality="SM",
        name=path.stem,
        rgb=levels[0].ndim == 3,
        levels=tuple(levels),
        units=units,
        source=str(path),
        metadata={"backend": backend if backend != "auto" else _backend_of(path), "tile_errors": tile_errors},
        warnings=warnings,
    )


def _backend_of(path: Path) -> str:
    return "openslide" if path.suffix.lower() in OPENSLIDE_SUFFIXES else "tifffile"


def _tifffile_levels(
    path: Path, tile_errors: TileErrors
) -> tuple[list[da.Array], tuple[float, float] | None, str]:
    try:
        tiff = tifffile.TiffFile(path)
    except TIFF_ERRORS as error:
        raise _unreadable(error, path) from error
    try:
        series = tiff.series[0]
        axes, (mpp, note) = series.axes, tiff_microns_per_pixel(tiff)
        layout = tiff_levels(series)
        store = series.aszarr()
    except TIFF_ERRORS as error:
        tiff.close()
        raise _unreadable(error, path) from error
    if axes not in _AXES:
        tiff.close()
        raise ScanError(f"slides with axes {axes!r} are not supported (expected YXS, YX or CYX)", path)
    try:
        check_tiff_levels(layout, path, whole=False)
    except ScanError:
        tiff.close()
        raise
    # The file stays open while any level can still be read, and closes with the last of them.
    weakref.finalize(store, tiff.close)
    try:
        node = zarr.open(store, mode="r")
        arrays = (
            [node[key] for key in sorted(node.array_keys(), key=int)]
            if isinstance(node, zarr.Group)
            else [node]
        )
        for number in sorted({0, len(arrays) - 1}):  # strict: a slide whose first tile is broken is refused
            np.asarray(arrays[number][first_region(arrays[number].shape, arrays[number].chunks)])
    except TIFF_ERRORS as error:
        raise ScanError(f"the first tile cannot be decoded ({_reason(error)})", path) from error
    spatial = (1, 2) if axes == "CYX" else (0, 1)
    levels = [
        _to_yxs(_guarded_zarr(array, number, tile_errors, spatial), axes, path)
        for number, array in enumerate(arrays)
    ]
    return levels, mpp, note


def _guarded_zarr(
    array: zarr.Array, level: int, tile_errors: TileErrors, spatial: tuple[int, int]
) -> da.Array:
    def read(region: tuple[slice, ...]) -> np.ndarray:
        return array[region]

    return guarded_level(
        read, array.shape, array.chunks, np.dtype(array.dtype), tile_errors, level, TIFF_ERRORS, spatial
    )


def _unreadable(error: BaseException, path: Path) -> ScanError:
    return ScanError(f"not a readable TIFF slide ({_reason(error)})", path)


def _reason(error: BaseException) -> str:
    text = " ".join(str(error).split())[:200]
    return f"{type(error).__name__}: {text}" if text else type(error).__name__


def _to_yxs(level: da.Array, axes: str, path: Path) -> da.Array:
    if axes in ("YXS", "YX"):
        return level
    if axes == "CYX" and level.shape[0] == 3:
        return da.moveaxis(level, 0, -1)
    raise ScanError(f"slides with axes {axes!r} are not supported (expected YXS, YX or CYX)", path)


def _openslide_levels(
    path: Path, tile_errors: TileErrors
) -> tuple[list[da.Array], tuple[float, float] | None]:
    import openslide

    try:
        handle = _OpenSlideHandle(path)
    except (openslide.OpenSlideError, OSError) as error:
        raise ScanError(f"OpenSlide cannot open this slide ({error})", path) from error
    slide = handle.slide
    levels = [_openslide_level(handle, level, tile_errors) for level in range(slide.level_count)]
    props = slide.properties
    mpp_x, mpp_y = props.get(openslide.PROPERTY_NAME_MPP_X), props.get(openslide.PROPERTY_NAME_MPP_Y)
    return levels, (float(mpp_y), float(mpp_x)) if mpp_x and mpp_y else None


class _OpenSlideHandle:
    """An OpenSlide object that is replaced after a read fails: OpenSlide errors are sticky, every
    later read of the same object fails too, so one damaged tile would blank the whole slide."""

    def __init__(self, path: Path) -> None:
        import openslide

        self._path, self._lock = path, threading.Lock()
        self.slide = openslide.OpenSlide(str(path))

    def read_region(self, origin: tuple[int, int], level: int, size: tuple[int, int]) -> np.ndarray:
        import openslide

        slide = self.slide
        try:
            return np.asarray(slide.read_region(origin, level, size))
        except openslide.OpenSlideError:
            with self._lock:
                if self.slide is slide:
                    self.slide = openslide.OpenSlide(str(self._path))
            raise


def _openslide_level(handle: _OpenSlideHandle, level: int, tile_errors: TileErrors) -> da.Array:
    import openslide

    width, height = handle.slide.level_dimensions[level]
    factor = handle.slide.level_downsamples[level]

    def read(region: tuple[slice, ...]) -> np.ndarray:
        rows, columns, _ = region
        origin = (int(round(columns.start * factor)), int(round(rows.start * factor)))
        rgba = handle.read_region(origin, level, (columns.stop - columns.start, rows.stop - rows.start))
        rgb = rgba[..., :3].copy()
        rgb[rgba[..., 3] == 0] = 255  # outside the scanned area: white glass, not black
        return rgb

    chunks = (_OPENSLIDE_CHUNK, _OPENSLIDE_CHUNK, 3)
    return guarded_level(
        read, (height, width, 3), chunks, np.uint8, tile_errors, level, (openslide.OpenSlideError,)
    )
