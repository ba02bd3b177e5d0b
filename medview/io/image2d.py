"""Plain 2D pictures: PNG, JPEG, BMP and small (non-pyramidal) TIFF, grey or RGB."""

from __future__ import annotations

from pathlib import Path

import imageio.v3 as iio
import numpy as np
import tifffile

from medview.core.geometry import Geometry
from medview.core.scan import Scan
from medview.io.errors import ScanError

SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff")


def read_image(path: str | Path) -> Scan:
    """A 2D picture as a scan with unit spacing (pictures carry no physical geometry).

    Greyscale gives ``(y, x)``, colour ``(y, x, 3)`` (an alpha channel is dropped); a multi-page
    greyscale TIFF gives a ``(z, y, x)`` stack.

    Raises:
        ScanError: empty, truncated or undecodable file, or an unsupported layout.
    """
    path = Path(path)
    if path.stat().st_size == 0:
        raise ScanError("the file is empty (0 bytes)", path)
    try:
        array = tifffile.imread(path) if path.suffix.lower() in (".tif", ".tiff") else iio.imread(path)
    except (OSError, ValueError, SyntaxError, RuntimeError, tifffile.TiffFileError) as error:
        raise ScanError(
            f"not a readable image ({str(error).splitlines()[0] if str(error) else error!r})", path
        ) from error
    array = np.asarray(array)
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
    return Scan(
        array=np.ascontiguousarray(array),
        geometry=Geometry.identity(spatial),
        modality="OT",
        name=path.stem,
        rgb=rgb,
        source=str(path),
    )
