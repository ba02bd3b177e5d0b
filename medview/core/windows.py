"""Display windows (level) for a scan: the DICOM's own, presets by modality, and a percentile auto-window.

numpy only; lazy and multiscale arrays are sampled (the coarsest level, strided), never read whole.
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
_MAX_SAMPLES = 1 << 20


def window_presets(scan: Scan) -> list[Window]:
    """Windows to offer, best first: DICOM WindowCenter/Width, then modality presets, then auto.

    The DICOM windows come from ``scan.metadata["dicom_windows"]`` as ``(center, width, name)``.
    """
    windows = [Window(float(c), float(w), name) for c, w, name in scan.metadata.get("dicom_windows", ())]
    if scan.modality == "CT" and not scan.rgb:
        windows.extend(CT_PRESETS)
    windows.append(auto_window(scan))
    return windows


def default_window(scan: Scan) -> Window:
    """The window a scan is first shown with: the first of :func:`window_presets` (computed alone)."""
    dicom = scan.metadata.get("dicom_windows")
    if dicom:
        center, width, name = dicom[0]
        return Window(float(center), float(width), name)
    if scan.modality == "CT" and not scan.rgb:
        return CT_PRESETS[0]
    return auto_window(scan)


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
