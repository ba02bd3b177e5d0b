"""Plain 2D pictures: PNG, JPEG, BMP and small (non-pyramidal) TIFF, grey or RGB."""

from __future__ import annotations

import struct
import zlib
from pathlib import Path

import imageio.v3 as iio
import numpy as np
import tifffile
from PIL import Image

from medview.core.geometry import Geometry
from medview.core.scan import Scan
from medview.io.errors import ScanError
from medview.io.pixel_checks import TIFF_ERRORS, check_memory, check_tiff_levels, tiff_levels
from medview.io.tiff_calibration import tiff_microns_per_pixel

SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff")
# What Pillow (under imageio) raises on a damaged PNG, JPEG or BMP.
_PICTURE_ERRORS = (OSError, ValueError, SyntaxError, RuntimeError, EOFError, struct.error, zlib.error)


def read_image(path: str | Path) -> Scan:
    """A 2D picture as a scan of unknown pixel size (``units="pixel"``), unless a TIFF states a
    microscope calibration (µm).

    Greyscale gives ``(y, x)``, colour ``(y, x, 3)`` (an alpha channel is dropped); a multi-page
    greyscale TIFF gives a ``(z, y, x)`` stack.

    Raises:
        ScanError: empty, truncated or undecodable file, or an unsupported layout.
    """
    path = Path(path)
    if path.stat().st_size == 0:
        raise ScanError("the file is empty (0 bytes)", path)
    array = _read_tiff(path) if path.suffix.lower() in (".tif", ".tiff") else _read_picture(path)
    if array.dtype == bool:  # 1-bit images
        array = array.astype(np.uint8)
    rgb = array.ndim == 3 and array.shape[-1] in (3, 4)
    if array.ndim == 3 and array.shape[-1] == 2:
        array, rgb = array[..., 0], False
    if rgb:
        array = array[..., :3]
    spatial = array.ndim - int(rgb)
    if spatial not in (2, 3) or 0 in array.shape:
        raise ScanError(
            f"an image of shape {array.shape} is neither a 2D picture nor a greyscale stack", path
        )
    microns, note = _calibration(path) if spatial == 2 else (None, "")
    return Scan(
        array=np.ascontiguousarray(array),
        geometry=Geometry.from_spacing(microns) if microns else Geometry.identity(spatial),
        modality="OT",
        name=path.stem,
        rgb=rgb,
        units="um" if microns else "pixel",
        source=str(path),
        warnings=[note] if note else [],
    )


def _read_tiff(path: Path) -> np.ndarray:
    """The first series of a TIFF, after checking its header against itself, the file and memory."""
    try:
        with tifffile.TiffFile(path) as tiff:
            levels = tiff_levels(tiff.series[0])
    except TIFF_ERRORS as error:
        raise _unreadable(error, path) from error
    check_tiff_levels(levels[:1], path, whole=True)
    try:
        return np.asarray(tifffile.imread(path))
    except TIFF_ERRORS as error:
        raise _unreadable(error, path) from error


def _read_picture(path: Path) -> np.ndarray:
    """A PNG, JPEG or BMP; its header is read first, so a claimed size that cannot fit in memory
    is refused before any pixel is decoded."""
    try:
        with Image.open(path) as image:
            (width, height), bands = image.size, len(image.getbands())
            bytes_per_band = 2 if image.mode.startswith("I;16") else 4 if image.mode in ("I", "F") else 1
    except Image.DecompressionBombError as error:
        raise ScanError(f"the header claims more pixels than can be decoded ({error})", path) from error
    except _PICTURE_ERRORS as error:
        raise _unreadable(error, path) from error
    check_memory(2 * width * height * bands * bytes_per_band, path)
    try:
        return np.asarray(iio.imread(path))
    except _PICTURE_ERRORS as error:
        raise _unreadable(error, path) from error


def _unreadable(error: Exception, path: Path) -> ScanError:
    reason = str(error).splitlines()[0] if str(error) else ""
    if not isinstance(error, (OSError, tifffile.TiffFileError)):  # a parser tripped on the header
        reason = f"{type(error).__name__}: {reason}" if reason else type(error).__name__
    return ScanError(f"not a readable image ({reason})", path)


def _calibration(path: Path) -> tuple[tuple[float, float] | None, str]:
    """A TIFF's microscope calibration (µm); PNG, JPEG and BMP hold none (their dpi is for screens)."""
    if path.suffix.lower() not in (".tif", ".tiff"):
        return None, ""
    try:
        with tifffile.TiffFile(path) as tiff:
            return tiff_microns_per_pixel(tiff)
    except (tifffile.TiffFileError, ValueError, OSError, IndexError):
        return None, ""
