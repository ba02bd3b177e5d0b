"""Write a calibrated 2D image (a slide region, an H&E tile) as a pyramidal tiled OME-TIFF.

The pixel size is written as OME physical sizes in µm and as resolution tags in pixels per cm, the
calibration slide viewers read (QuPath, OpenSlide's generic TIFF), so the file reopens with the same
geometry; tiles are losslessly compressed so a model sees the same pixels from disk as from memory.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import tifffile

from medview.core.errors import InputError
from medview.core.scan import Scan
from medview.io.atomic import write_with_atomic
from medview.io.format_capacity import writable_array

TILE = 256


def write_slide_tiff(scan: Scan, path: str | Path, levels: int | None = None) -> Path:
    """Write ``scan``'s full resolution and 2x-downsampled levels down to about one tile, atomically.

    Raises:
        InputError: before anything is written, when the scan is not one 2D image of values a TIFF
            holds (:mod:`medview.io.format_capacity`), or its pixel size is not in µm.
    """
    path = Path(path)
    if scan.units != "um":
        raise InputError("a pyramidal slide TIFF needs a pixel size in µm; this scan has none", path)
    base = writable_array(
        scan.array, path, kind="scan", ndim=scan.geometry.ndim, rgb=scan.rgb, time_axis=scan.has_time_axis
    )
    count = levels or max(1, int(np.ceil(np.log2(max(base.shape[:2]) / TILE))) + 1)
    mpp_y, mpp_x = scan.geometry.spacing
    metadata = {
        "PhysicalSizeY": mpp_y,
        "PhysicalSizeYUnit": "µm",
        "PhysicalSizeX": mpp_x,
        "PhysicalSizeXUnit": "µm",
        "Name": scan.name,
    }
    options = {
        "tile": (TILE, TILE),
        "photometric": "rgb" if scan.rgb else "minisblack",
        "compression": "zlib",
    }

    def write(temporary: Path) -> None:
        with tifffile.TiffWriter(temporary, bigtiff=base.nbytes > 2**31, ome=True) as tiff:
            tiff.write(
                base,
                subifds=count - 1,
                resolution=(1e4 / mpp_x, 1e4 / mpp_y),
                resolutionunit="CENTIMETER",
                metadata=metadata,
                **options,
            )
            level = base
            for _ in range(1, count):
                level = _half(level)
                tiff.write(level, subfiletype=1, **options)

    write_with_atomic(path, write)
    return path


def _half(image: np.ndarray) -> np.ndarray:
    """The next pyramid level: the mean of each 2x2 block (an odd last row or column is kept alone)."""
    height, width = (-(-n // 2) * 2 for n in image.shape[:2])
    padded = np.pad(
        image,
        [(0, height - image.shape[0]), (0, width - image.shape[1])] + [(0, 0)] * (image.ndim - 2),
        mode="edge",
    )
    blocks = padded.reshape(height // 2, 2, width // 2, 2, *image.shape[2:]).astype(np.float32)
    return np.round(blocks.mean(axis=(1, 3))).astype(image.dtype)
