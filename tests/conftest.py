"""Shared fixtures: small demo cases, built once per session (the phantoms are defined in mm and scale)."""

from __future__ import annotations

import pytest

from medview.demo import DemoCase, make_ct, make_radiograph, make_tile

SMALL_CT_SHAPE = (40, 64, 64)


@pytest.fixture(scope="session")
def small_ct() -> DemoCase:
    """The demo CT phantom on a 40x64x64 grid (8 x 3.2 x 3.2 mm voxels)."""
    return make_ct(0, shape=SMALL_CT_SHAPE)


@pytest.fixture(scope="session")
def small_radiograph() -> DemoCase:
    return make_radiograph(0, shape=(256, 256))


@pytest.fixture(scope="session")
def small_tile() -> DemoCase:
    return make_tile(0, shape=(256, 256))
