"""Display windows (level) for a scan: the DICOM's own, CT presets for values in HU, a percentile auto-window.

A signed map (a z- or t-statistic, a velocity, a difference) gets a window symmetric about zero,
for a diverging colormap whose neutral colour is zero. numpy only; lazy and multiscale arrays are
sampled (the coarsest level, strided), never read whole.
"""

from __future__ import annotations

import math

import numpy as np

from medview.core.scan import Scan, Window

CT_PRESETS = (
    Window(40.0, 400.0, "soft tissue"),
    Window(-600.0, 1500.0, "lung"),
    Window(400.0, 1800.0, "bone"),
    Window(40.0, 80.0, "brain"),
)
AUTO_PERCENTILES = (0.5, 99.5)
# A signed map: between these percentiles the values run from below zero to above it...
SIGNED_PERCENTILES = (1.0, 99.0)
# ...and the weaker side reaches at least this fraction of the stronger one.
SIGNED_BALANCE = 0.1
# Values this low are air in Hounsfield units: a CT whose file does not say HU, not a statistic.
_AIR_HU = -900.0
_MAX_SAMPLES = 1 << 20


def window_presets(scan: Scan) -> list[Window]:
    """Windows to offer, best first: DICOM WindowCenter/Width, then modality presets, then auto.

    The DICOM windows come from ``scan.metadata["dicom_windows"]`` as ``(center, width, name)``.
    """
    windows = [Window(float(c), float(w), name) for c, w, name in scan.metadata.get("dicom_windows", ())]
    if scan.value_unit == "HU" and not scan.rgb:
        windows.extend(CT_PRESETS)
    if is_signed_map(scan):
        windows.append(signed_window(scan))
    windows.append(auto_window(scan))
    return windows


def default_window(scan: Scan) -> Window:
    """The window a scan is first shown with: the first of :func:`window_presets` (computed alone)."""
    dicom = scan.metadata.get("dicom_windows")
    if dicom:
        center, width, name = dicom[0]
        return Window(float(center), float(width), name)
    if scan.value_unit == "HU" and not scan.rgb:
        return CT_PRESETS[0]
    if is_signed_map(scan):
        return signed_window(scan)
    return auto_window(scan)


def is_signed_map(scan: Scan) -> bool:
    """True when a scan's values are a signed quantity best shown diverging about zero.

    The rule: greyscale floating-point values, not CT (neither ``HU`` nor modality CT, nor values
    down at air's -1000), whose 1st percentile is below zero and 99th above it, the weaker side at
    least :data:`SIGNED_BALANCE` of the stronger. A z-map (-4..6) qualifies; an MR magnitude image
    (positive, perhaps with a few negative interpolation ringing voxels) and any CT do not.
    """
    if scan.rgb or scan.value_unit == "HU" or scan.modality == "CT":
        return False
    finite = _finite_floats(scan)
    if finite is None or finite.size == 0:
        return False
    low, high = (float(v) for v in np.percentile(finite, SIGNED_PERCENTILES))
    if not low < 0.0 < high or low <= _AIR_HU:
        return False
    return min(-low, high) >= SIGNED_BALANCE * max(-low, high)


def signed_window(scan: Scan) -> Window:
    """A window centred on zero reaching the 99.5th percentile of the values' magnitude."""
    finite = _finite_floats(scan)
    magnitude = np.abs(finite) if finite is not None and finite.size else np.ones(1)
    limit = float(np.percentile(magnitude, AUTO_PERCENTILES[1])) or float(magnitude.max()) or 1.0
    return Window(0.0, 2.0 * limit, "signed (0 centred)")


def auto_window(scan: Scan, percentiles: tuple[float, float] = AUTO_PERCENTILES) -> Window:
    """A window spanning the given percentiles of the scan's values (8-bit colour: the full range)."""
    sample = sample_values(scan)
    if scan.rgb and sample.dtype == np.uint8:
        return Window(127.5, 255.0, "full range")
    finite = sample[np.isfinite(sample)] if sample.dtype.kind == "f" else sample
    if finite.size == 0:
        return Window(0.5, 1.0, "auto")
    low, high = (float(v) for v in np.percentile(finite, percentiles))
    if high <= low:
        low, high = float(finite.min()), float(finite.max())
    if high <= low:
        high = low + 1.0
    return Window((low + high) / 2.0, high - low, "auto")


def sample_values(scan: Scan, max_values: int = _MAX_SAMPLES) -> np.ndarray:
    """At most about ``max_values`` values of the scan, evenly strided, from its coarsest level."""
    array = scan.levels[-1] if scan.levels else scan.array
    spatial = len(array.shape) - int(scan.rgb)
    total = math.prod(int(s) for s in array.shape[:spatial])
    step = max(1, math.ceil((total / max_values) ** (1.0 / max(spatial, 1))))
    index = tuple(slice(None, None, step) for _ in range(spatial))
    return np.asarray(array[index]).ravel()


def _finite_floats(scan: Scan) -> np.ndarray | None:
    """The finite values of a sample of a floating-point scan; ``None`` for integer scans."""
    sample = sample_values(scan)
    return sample[np.isfinite(sample)] if sample.dtype.kind == "f" else None
