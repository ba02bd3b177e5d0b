"""A small CT scan shared by the model tests."""

from __future__ import annotations

import numpy as np
import pytest

from medview.core.geometry import Geometry
from medview.core.scan import Scan


@pytest.fixture
def ct_scan() -> Scan:
    """A 3-D CT with anisotropic spacing and an off-zero origin: 'bone' above 300 HU in a block."""
    array = np.full((12, 20, 24), -100, np.int16)
    array[3:9, 5:15, 6:18] = 500
    return Scan(array, Geometry.from_spacing((3.0, 0.8, 0.7), (-10.0, 5.0, 2.5)), modality="CT", name="block")
