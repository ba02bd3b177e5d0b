"""The demo generator: deterministic, anatomically consistent, and different per seed."""

import numpy as np
import pytest

from medview.demo import CT_SHAPE, demo_cases, make_ct, make_radiograph

HU_RANGES = {  # label value -> plausible mean HU
    0: (-1010, -950),  # air (partial volume at the skin on a coarse grid)
    2: (-900, -700),  # lung
    3: (40, 80),  # liver
    4: (550, 750),  # bone
}


def test_full_size_ct_has_the_documented_shape_spacing_and_window():
    case = make_ct(0)
    assert case.scan.array.shape == CT_SHAPE
    assert case.scan.array.dtype == np.int16
    assert case.scan.spacing == pytest.approx((2.0, 0.8, 0.8))
    assert case.scan.modality == "CT"
    assert case.scan.window.limits == (-160.0, 240.0)
    assert case.truth.fits(case.scan)
    assert case.truth.present_values() == [1, 2, 3, 4, 5]


def test_same_seed_gives_identical_cases_and_another_seed_differs(small_ct):
    again = make_ct(0, shape=small_ct.scan.array.shape)
    np.testing.assert_array_equal(again.scan.array, small_ct.scan.array)
    np.testing.assert_array_equal(again.truth.array, small_ct.truth.array)
    other = make_ct(1, shape=small_ct.scan.array.shape)
    assert not np.array_equal(other.truth.array, small_ct.truth.array)


@pytest.mark.parametrize("label, hu_range", HU_RANGES.items())
def test_ct_labels_agree_with_the_hounsfield_units_under_them(small_ct, label, hu_range):
    mean_hu = small_ct.scan.array[small_ct.truth.array == label].mean()
    assert hu_range[0] <= mean_hu <= hu_range[1]


def test_shifted_domain_has_the_same_anatomy_and_brighter_liver(small_ct):
    shifted = make_ct(0, shape=small_ct.scan.array.shape, domain="shifted")
    np.testing.assert_array_equal(shifted.truth.array, small_ct.truth.array)
    liver = small_ct.truth.array == 3
    assert shifted.scan.array[liver].mean() > small_ct.scan.array[liver].mean() + 30


def test_ct_values_stay_in_the_scanner_range(small_ct):
    assert small_ct.scan.array.min() >= -1024
    assert small_ct.scan.array.max() <= 3071


def test_radiograph_nodules_lie_inside_the_image_and_are_brighter_than_their_surroundings():
    case = make_radiograph(0, shape=(512, 512))
    image = case.scan.array.astype(float)
    assert case.scan.modality == "DX" and 1 <= len(case.boxes) <= 4
    for box in case.boxes:
        (y0, x0), (y1, x1) = np.floor(box.start).astype(int), np.ceil(box.stop).astype(int)
        assert 0 <= y0 < y1 <= 512 and 0 <= x0 < x1 <= 512
        centre = image[(y0 + y1) // 2, (x0 + x1) // 2]
        ring = np.concatenate([image[max(y0 - 8, 0), x0:x1], image[min(y1 + 8, 511), x0:x1]])
        assert centre > ring.mean() + 200


def test_tile_nuclei_are_darker_than_stroma(small_tile):
    rgb = small_tile.scan.array.astype(float)
    nuclei = small_tile.truth.array == 1
    assert small_tile.scan.rgb and small_tile.scan.units == "um"
    assert 0.02 < nuclei.mean() < 0.3
    assert rgb[nuclei].mean() < rgb[~nuclei].mean() - 60


def test_demo_cases_yields_each_kind_per_case_with_distinct_seeds():
    cases = list(demo_cases(count=2, seed=5))
    assert [case.kind for case in cases] == ["ct", "radiograph", "tile"] * 2
    assert len({case.name for case in cases}) == 6
