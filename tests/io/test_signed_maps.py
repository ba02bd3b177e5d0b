"""Statistical maps (signed values) open with a window centred on zero; CT and MR magnitudes do not."""

from __future__ import annotations

import numpy as np
import pytest
import SimpleITK as sitk

from medview.core.windows import is_signed_map, signed_window, window_presets
from medview.io import open_scan


def _nifti(tmp_path, name: str, array: np.ndarray) -> str:
    image = sitk.GetImageFromArray(array)
    image.SetSpacing((2.0, 2.0, 2.0))
    path = str(tmp_path / name)
    sitk.WriteImage(image, path)
    return path


def _z_map() -> np.ndarray:
    """A z-map from -4 to 6: mostly near zero, one negative and one positive cluster."""
    rng = np.random.default_rng(3)
    z = rng.normal(0.0, 1.0, size=(12, 20, 20)).clip(-3, 3)
    z[2:5, 3:8, 3:8] = np.linspace(-4.0, -2.0, 75).reshape(3, 5, 5)
    z[7:10, 10:16, 10:16] = np.linspace(2.0, 6.0, 108).reshape(3, 6, 6)
    return z.astype(np.float32)


def test_a_z_map_gets_a_window_centred_on_zero(tmp_path):
    scan = open_scan(_nifti(tmp_path, "zstat.nii.gz", _z_map()))
    assert is_signed_map(scan)
    assert scan.window.center == 0.0
    low, high = scan.window.limits
    assert low == -high and 4.0 <= high <= 6.0
    assert window_presets(scan)[-2] == signed_window(scan)  # offered before the auto window


@pytest.mark.parametrize(
    "array",
    [
        np.linspace(-1024, 3000, 4800).reshape(12, 20, 20).astype(np.int16),  # CT in HU, int16
        np.linspace(-1024, 3000, 4800).reshape(12, 20, 20).astype(np.float32),  # CT resampled to float
        np.linspace(0.0, 900.0, 4800).reshape(12, 20, 20).astype(np.float32),  # MR magnitude
    ],
    ids=["ct-int16", "ct-float", "mr"],
)
def test_ct_and_positive_images_are_not_signed_maps(tmp_path, array):
    scan = open_scan(_nifti(tmp_path, "scan.nii.gz", array))
    assert not is_signed_map(scan)
    assert scan.window.name != signed_window(scan).name


def test_a_few_negative_ringing_voxels_do_not_make_a_signed_map(tmp_path):
    mr = np.linspace(0.0, 900.0, 4800).reshape(12, 20, 20).astype(np.float32)
    mr[0, 0, :20] = -300.0  # interpolation ringing at an edge: 20 of 4800 voxels
    assert not is_signed_map(open_scan(_nifti(tmp_path, "mr.nii.gz", mr)))
