"""Render one slice of a scan, windowed and with a label overlay, to an RGB array (no GUI needed).

Used by ``medview snapshot`` and by reports. Pixels are resampled so that one screen pixel is the
same physical size along both axes (the true aspect ratio), image linearly and labels
nearest-neighbour; a scan whose spacing is not a positive finite number renders pixel for pixel.
"""

from __future__ import annotations

import numpy as np
from scipy import ndimage

from medview.core.scan import LabelMap, Scan, Window

OVERLAY_OPACITY = 0.45
MAX_SIDE = 8192
"""Longest side, in screen pixels, that resampling to the true aspect ratio may produce."""


def render_slice(
    scan: Scan,
    overlay: LabelMap | None = None,
    index: int | None = None,
    window: Window | None = None,
) -> np.ndarray:
    """An ``(H, W, 3)`` uint8 image of slice ``index`` along the first axis (middle by default).

    2D scans render whole. ``window`` defaults to the scan's own, else the 1st-99th percentile.
    """
    if overlay is not None and overlay.array.shape != scan.spatial_shape:
        raise ValueError(f"overlay of shape {overlay.array.shape} does not fit scan {scan.spatial_shape}")
    pixels = np.asarray(scan.levels[0] if scan.is_multiscale else scan.array)
    if scan.has_time_axis:
        pixels = pixels[0]
    labels = None if overlay is None else overlay.array
    spacing = scan.geometry.spacing
    if scan.geometry.ndim == 3:
        index = pixels.shape[0] // 2 if index is None else index
        if not 0 <= index < pixels.shape[0]:
            raise ValueError(f"slice {index} is outside 0..{pixels.shape[0] - 1}")
        pixels = pixels[index]
        labels = None if labels is None else labels[index]
        spacing = spacing[1:]
    rgb = pixels.astype(np.float32) if scan.rgb else _windowed_grey(pixels, window or scan.window)
    if labels is not None:
        rgb = _blend(rgb, labels, overlay)
    return _to_physical_aspect(rgb, spacing)


def _windowed_grey(pixels: np.ndarray, window: Window | None) -> np.ndarray:
    if window is None:
        low, high = np.percentile(pixels, (1, 99))
    else:
        low, high = window.limits
    grey = np.clip((pixels.astype(np.float32) - low) / max(high - low, 1e-6), 0, 1) * 255
    return np.repeat(grey[..., np.newaxis], 3, axis=-1)


def _blend(rgb: np.ndarray, labels: np.ndarray, overlay: LabelMap) -> np.ndarray:
    colours = overlay.labels.colours()
    lookup = np.zeros((max([int(labels.max()), *colours]) + 1, 3), np.float32)
    lookup[1:] = (255, 0, 255)  # values the table does not name stand out
    for value, colour in colours.items():
        lookup[value] = colour
    painted = labels > 0
    out = rgb.copy()
    out[painted] = (1 - OVERLAY_OPACITY) * rgb[painted] + OVERLAY_OPACITY * lookup[labels[painted]]
    return out


def _to_physical_aspect(rgb: np.ndarray, spacing: tuple[float, ...]) -> np.ndarray:
    spacing_array = np.asarray(spacing, dtype=np.float64)
    if np.all(np.isfinite(spacing_array)) and np.all(spacing_array > 0):
        zoom = spacing_array / spacing_array.min()
        # A wildly anisotropic pixel (a damaged header) must not resample to a giant image.
        largest = max(size * factor for size, factor in zip(rgb.shape[:2], zoom, strict=True))
        if largest > MAX_SIDE:
            zoom = np.maximum(zoom * (MAX_SIDE / largest), 1.0 / np.asarray(rgb.shape[:2]))
        if not np.allclose(zoom, 1.0):
            rgb = ndimage.zoom(rgb, (*zoom, 1), order=1)
    return np.clip(rgb, 0, 255).astype(np.uint8)
