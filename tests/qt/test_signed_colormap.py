"""A signed map is shown with a diverging colormap whose neutral colour sits on zero."""

from __future__ import annotations

import numpy as np

from medview.core.geometry import Geometry
from medview.core.scan import Scan, Window
from medview.qt.bridge import SIGNED_COLORMAP, scan_layer_data


def test_signed_map_layer_is_diverging_and_symmetric():
    values = np.linspace(-4.0, 6.0, 1000, dtype=np.float32).reshape(10, 10, 10)
    scan = Scan(values, Geometry.identity(3), modality="MR", window=Window(1.0, 10.0, "auto"))
    _, kwargs, _ = scan_layer_data(scan)
    assert kwargs["colormap"] == SIGNED_COLORMAP
    low, high = kwargs["contrast_limits"]
    assert low == -high and 5.5 < high <= 6.0


def test_ct_layer_stays_grey():
    values = np.linspace(-1024, 3000, 1000).astype(np.int16).reshape(10, 10, 10)
    scan = Scan(values, Geometry.identity(3), modality="CT", value_unit="HU", window=Window(40, 400))
    _, kwargs, _ = scan_layer_data(scan)
    assert kwargs["colormap"] == "gray" and kwargs["contrast_limits"] == (-160.0, 240.0)
