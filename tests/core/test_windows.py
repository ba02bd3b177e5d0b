"""Display windows: DICOM first, CT presets, percentile auto-window, lazy multiscale sampling."""

from __future__ import annotations

import dask.array as da
import numpy as np
import pytest

from medview.core.geometry import Geometry
from medview.core.scan import Scan, Window
from medview.core.windows import CT_PRESETS, auto_window, default_window, window_presets


def _ct(dicom_windows=(), value_unit="HU"):
    array = np.arange(-1000, 1000, dtype=np.int16).reshape(2, 10, 100)
    metadata = {"dicom_windows": list(dicom_windows)}
    return Scan(array, Geometry.identity(3), modality="CT", value_unit=value_unit, metadata=metadata)


def test_dicom_window_comes_first_then_ct_presets_then_auto():
    presets = window_presets(_ct([(35.0, 350.0, "ABDOMEN")]))
    assert presets[0] == Window(35.0, 350.0, "ABDOMEN")
    assert presets[1 : 1 + len(CT_PRESETS)] == list(CT_PRESETS)
    assert [w.name for w in CT_PRESETS] == ["soft tissue", "lung", "bone", "brain"]
    assert presets[-1].name == "auto"


def test_ct_without_a_dicom_window_opens_with_soft_tissue():
    assert default_window(_ct()) == Window(40.0, 400.0, "soft tissue")


def test_ct_values_not_in_hounsfield_units_get_no_hu_presets():
    perfusion = _ct(value_unit="")  # a CT perfusion map, RescaleType US
    assert default_window(perfusion).name == "auto"
    assert not set(CT_PRESETS) & set(window_presets(perfusion))


def test_auto_window_spans_the_half_to_99_5_percentiles():
    mr = Scan(
        np.linspace(0, 1000, 1001, dtype=np.float32).reshape(1, 7, 143), Geometry.identity(3), modality="MR"
    )
    window = default_window(mr)
    assert window.name == "auto"
    assert window.limits == pytest.approx((5.0, 995.0))


def test_constant_image_gets_a_non_zero_width():
    flat = Scan(np.full((4, 4), 7.0), Geometry.identity(2))
    assert auto_window(flat).width > 0


def test_8_bit_colour_shows_its_full_range():
    tile = Scan(np.zeros((4, 4, 3), np.uint8), Geometry.identity(2), rgb=True)
    assert default_window(tile) == Window(127.5, 255.0, "full range")


def test_a_multiscale_scan_is_sampled_from_its_coarsest_level_only():
    def never(block):
        raise AssertionError("the full-resolution level must not be read")

    full = da.zeros((4096, 4096), dtype=np.uint16, chunks=1024).map_blocks(never, dtype=np.uint16)
    coarse = da.from_array(np.linspace(100, 200, 64 * 64).reshape(64, 64).astype(np.uint16))
    slide = Scan(full, Geometry.from_spacing((0.5, 0.5)), modality="SM", levels=(full, coarse), units="um")
    window = default_window(slide)
    assert window.limits == pytest.approx((100.5, 199.5), abs=0.6)
