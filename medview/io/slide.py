"""Whole-slide images as lazy multiscale scans: memory stays bounded whatever the slide size.

Pyramidal (OME-)TIFF is read through tifffile's zarr store, the OpenSlide formats (SVS, NDPI, MRXS,
...) through OpenSlide; either way each pyramid level is a dask array whose chunks are decoded only
when napari (or a model) asks for them. Geometry is in microns per pixel (``units='um'``).
"""

from __future__ import annotations

import re
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

OPENSLIDE_SUFFIXES = (".svs", ".ndpi", ".mrxs", ".scn", ".vms", ".vmu", ".bif", ".svslide")
# A TIFF larger than this on a side is a slide even without a pyramid: it is read lazily.
_LARGE_SIDE = 16384
_OPENSLIDE_CHUNK = 1024

Backend = Literal["auto", "tifffile", "openslide"]


def is_slide_tiff(path: str | Path) -> bool:
    """True when a TIFF is pyramidal or too large to read whole."""
    try:
        with tifffile.TiffFile(path) as tiff:
            series = tiff.series[0]
            return len(series.levels) > 1 or max(series.shape[:2]) > _LARGE_SIDE
    except (tifffile.TiffFileError, IndexError, ValueError, OSError):
        return False


def open_slide(path: str | Path, backend: Backend = "auto") -> Scan:
    """A whole-slide image as a lazy multiscale RGB scan, full resolution first.

    ``backend='auto'`` reads TIFF through tifffile and the other formats through OpenSlide.

    Raises:
        ScanError: a file neither reader can open, or one with an unsupported channel layout.
    """
    path = Path(path)
    if path.stat().st_size == 0:
        raise ScanError("the file is empty (0 bytes)", path)
    if backend == "openslide" or (backend == "auto" and path.suffix.lower() in OPENSLIDE_SUFFIXES):
        levels, mpp = _openslide_levels(path)
    else:
        levels, mpp = _tifffile_levels(path)
    warnings = []
    if mpp is None:
        warnings.append("the slide states no microns per pixel: shown with 1 µm per pixel")
        mpp = (1.0, 1.0)
    return Scan(
        array=levels[0],
        geometry=Geometry.from_spacing(mpp),
        modality="SM",
        name=path.stem,
        rgb=levels[0].ndim == 3,
        levels=tuple(levels),
        units="um",
        source=str(path),
        metadata={"backend": backend if backend != "auto" else _backend_of(path)},
        warnings=warnings,
    )


def _backend_of(path: Path) -> str:
    return "openslide" if path.suffix.lower() in OPENSLIDE_SUFFIXES else "tifffile"


def _tifffile_levels(path: Path) -> tuple[list[da.Array], tuple[float, float] | None]:
    try:
        tiff = tifffile.TiffFile(path)
    except (tifffile.TiffFileError, ValueError, OSError) as error:
        raise ScanError(f"not a readable TIFF slide ({error})", path) from error
    try:
        series = tiff.series[0]
        axes, mpp = series.axes, _tiff_mpp(tiff)
        store = series.aszarr()
    except (tifffile.TiffFileError, IndexError, ValueError, OSError) as error:
        tiff.close()
        raise ScanError(f"not a readable TIFF slide ({error})", path) from error
    # The file stays open while any level can still be read, and closes with the last of them.
    weakref.finalize(store, tiff.close)
    node = zarr.open(store, mode="r")
    arrays = (
        [node[key] for key in sorted(node.array_keys(), key=int)] if isinstance(node, zarr.Group) else [node]
    )
    levels = [_to_yxs(da.from_zarr(array), axes, path) for array in arrays]
    return levels, mpp


def _to_yxs(level: da.Array, axes: str, path: Path) -> da.Array:
    if axes in ("YXS", "YX"):
        return level
    if axes == "CYX" and level.shape[0] == 3:
        return da.moveaxis(level, 0, -1)
    raise ScanError(f"slides with axes {axes!r} are not supported (expected YXS, YX or CYX)", path)


def _tiff_mpp(tiff: tifffile.TiffFile) -> tuple[float, float] | None:
    """Microns per pixel (y, x) from OME-XML, an Aperio description or the resolution tags."""
    if tiff.is_ome and tiff.ome_metadata:
        sizes = [re.search(rf'PhysicalSize{axis}="([0-9.eE+-]+)"', tiff.ome_metadata) for axis in "YX"]
        if all(sizes):
            return float(sizes[0].group(1)), float(sizes[1].group(1))
    page = tiff.pages.first
    match = re.search(r"MPP\s*=\s*([0-9.]+)", page.description or "")
    if match:
        return float(match.group(1)), float(match.group(1))
    unit = page.tags.get("ResolutionUnit")
    x_res, y_res = page.tags.get("XResolution"), page.tags.get("YResolution")
    microns = {2: 25400.0, 3: 10000.0}.get(int(unit.value) if unit else 0)
    if microns and x_res and y_res:
        x, y = (value[0] / value[1] for value in (x_res.value, y_res.value))
        if x > 0 and y > 0:
            return microns / y, microns / x
    return None


def _openslide_levels(path: Path) -> tuple[list[da.Array], tuple[float, float] | None]:
    import openslide

    try:
        slide = openslide.OpenSlide(str(path))
    except (openslide.OpenSlideError, OSError) as error:
        raise ScanError(f"OpenSlide cannot open this slide ({error})", path) from error
    levels = [_openslide_level(slide, level) for level in range(slide.level_count)]
    props = slide.properties
    mpp_x, mpp_y = props.get(openslide.PROPERTY_NAME_MPP_X), props.get(openslide.PROPERTY_NAME_MPP_Y)
    return levels, (float(mpp_y), float(mpp_x)) if mpp_x and mpp_y else None


def _openslide_level(slide, level: int) -> da.Array:
    width, height = slide.level_dimensions[level]
    factor = slide.level_downsamples[level]

    def read_block(block_info=None) -> np.ndarray:
        (y0, y1), (x0, x1), _ = block_info[None]["array-location"]
        origin = (int(round(x0 * factor)), int(round(y0 * factor)))
        rgba = np.asarray(slide.read_region(origin, level, (x1 - x0, y1 - y0)))
        rgb = rgba[..., :3].copy()
        rgb[rgba[..., 3] == 0] = 255  # outside the scanned area: white glass, not black
        return rgb

    chunks = (_chunks(height), _chunks(width), (3,))
    return da.map_blocks(read_block, dtype=np.uint8, chunks=chunks)


def _chunks(size: int) -> tuple[int, ...]:
    full, rest = divmod(size, _OPENSLIDE_CHUNK)
    return (_OPENSLIDE_CHUNK,) * full + ((rest,) if rest else ())
