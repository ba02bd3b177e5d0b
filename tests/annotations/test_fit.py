"""describe_misfit names how an annotation's grid differs from the scan's, in x, y, z as the viewer shows.

The grids are written by SimpleITK, which lists size, spacing and origin as (x, y, z): the expected
phrases are read off those lists, independently of medview's array-ordered geometry.
"""

from __future__ import annotations

import numpy as np
import pytest
import SimpleITK as sitk

from medview.annotations.fit import describe_misfit
from medview.core.geometry import Geometry
from medview.core.scan import Scan
from medview.io import open_label_map, open_scan

SIZE = (20, 16, 6)  # x, y, z
SPACING = (0.7, 0.8, 2.5)
ORIGIN = (-20.0, 30.0, -100.0)


def _image(size=SIZE, spacing=SPACING, origin=ORIGIN, direction=None) -> sitk.Image:
    array = np.zeros(size[::-1], dtype=np.uint8)
    array[(slice(1, 3),) * len(size)] = 1
    image = sitk.GetImageFromArray(array)
    image.SetSpacing(spacing)
    image.SetOrigin(origin)
    if direction is not None:
        image.SetDirection(direction)
    return image


def _rotated_about_z(degrees: float) -> tuple[float, ...]:
    angle = np.radians(degrees)
    cos, sin = np.cos(angle), np.sin(angle)
    return (cos, -sin, 0.0, sin, cos, 0.0, 0.0, 0.0, 1.0)


@pytest.fixture(scope="module")
def scan(tmp_path_factory) -> Scan:
    path = tmp_path_factory.mktemp("scan") / "scan.nii.gz"
    sitk.WriteImage(sitk.Cast(_image(), sitk.sitkInt16), str(path))
    return open_scan(path)


CASES = {
    "other shape": (
        lambda: _image(size=(20, 16, 5)),
        "shape",
        ["the annotation is 20 x 16 x 5 (x, y, z) voxels but the scan is 20 x 16 x 6 (x, y, z)"],
        True,
    ),
    "other spacing": (
        lambda: _image(size=(20, 16, 12), spacing=(0.7, 0.8, 1.25)),
        "spacing",
        [
            "the annotation's voxels are 0.70 x 0.80 x 1.25 mm (x, y, z) "
            "but the scan's are 0.70 x 0.80 x 2.50 mm (x, y, z)",
            "it is 20 x 16 x 12 (x, y, z) voxels, the scan 20 x 16 x 6 (x, y, z)",
        ],
        True,
    ),
    "origin 5 mm to the left": (
        lambda: _image(origin=(-15.0, 30.0, -100.0)),
        "origin",
        [
            "shifted by 5.00 mm (x +5.00)",
            "its first voxel is at (x, y, z) = (-15.00, 30.00, -100.00) mm",
            "the scan's at (x, y, z) = (-20.00, 30.00, -100.00) mm",
        ],
        True,
    ),
    "origin far away": (
        lambda: _image(origin=(480.0, 30.0, -100.0)),
        "origin",
        ["shifted by 500.00 mm (x +500.00)", "it lies entirely outside the scan"],
        False,
    ),
    "flipped x": (
        lambda: sitk.Flip(_image(), [True, False, False]),
        "mirrored",
        ["the annotation is mirrored left-right (x) compared with the scan"],
        True,
    ),
    "direction -1 along y": (
        lambda: _image(direction=(1.0, 0.0, 0.0, 0.0, -1.0, 0.0, 0.0, 0.0, 1.0)),
        "mirrored",
        ["the annotation is mirrored front-back (y) compared with the scan"],
        True,
    ),
    "flipped x and z": (
        lambda: sitk.Flip(_image(), [True, False, True]),
        "mirrored",
        ["mirrored left-right (x) and head-foot (z) compared with the scan"],
        True,
    ),
    "rotated": (
        lambda: _image(direction=_rotated_about_z(30.0)),
        "direction",
        ["the annotation is rotated by 30 degrees compared with the scan"],
        True,
    ),
    "rotated, finer": (
        lambda: _image(size=(40, 32, 6), spacing=(0.35, 0.4, 2.5), direction=_rotated_about_z(12.0)),
        "direction",
        ["rotated by 12 degrees", "its voxel size and number of voxels differ too"],
        True,
    ),
    "2D on 3D": (
        lambda: _image(size=(20, 16), spacing=(0.7, 0.8), origin=(-20.0, 30.0)),
        "dimensions",
        ["the annotation is 2D, 20 x 16 (x, y) pixels, but the scan is 3D, 20 x 16 x 6 (x, y, z) voxels"],
        False,
    ),
}


@pytest.mark.parametrize("case", list(CASES))
def test_a_misfit_is_told_in_patient_terms(tmp_path, scan, case):
    make, kind, phrases, overlaps = CASES[case]
    path = tmp_path / "annotation.nii.gz"
    sitk.WriteImage(make(), str(path))
    annotation = open_label_map(path)

    misfit = describe_misfit(annotation.array.shape, annotation.geometry, scan)

    assert misfit is not None and misfit.kind == kind
    for phrase in phrases:
        assert phrase in misfit.message
    assert misfit.overlaps is overlaps
    if kind == "mirrored":
        assert "shift" not in misfit.message and "origin" not in misfit.message


def test_the_scans_own_grid_fits(tmp_path, scan):
    path = tmp_path / "same.nii.gz"
    sitk.WriteImage(_image(), str(path))
    annotation = open_label_map(path)
    assert describe_misfit(annotation.array.shape, annotation.geometry, scan) is None


def test_spacing_is_in_the_scans_unit_with_enough_decimals_to_differ():
    slide = Scan(np.zeros((40, 50)), Geometry.from_spacing((0.25, 0.25)), modality="SM", units="um")
    misfit = describe_misfit((40, 50), Geometry.from_spacing((0.25, 0.252)), slide)
    assert misfit is not None and misfit.kind == "spacing"
    assert "pixels are 0.252 x 0.250 µm (x, y) but the scan's are 0.250 x 0.250 µm (x, y)" in misfit.message

    photo = Scan(np.zeros((40, 50)), Geometry.identity(2), units="pixel")
    misfit = describe_misfit((20, 25), Geometry.from_spacing((2.0, 2.0)), photo)
    assert misfit is not None and misfit.kind == "spacing"
    assert "are 2.00 x 2.00 px (x, y) but the scan's are 1.00 x 1.00 px (x, y)" in misfit.message
    assert "it is 25 x 20 (x, y) pixels, the scan 50 x 40 (x, y)" in misfit.message


def test_a_2d_annotation_mirrored_top_to_bottom():
    image = Scan(np.zeros((40, 50)), Geometry.from_spacing((0.5, 0.5)), units="mm")
    # rows run upwards from the last row: row axis direction negated, origin at the bottom edge
    flipped = Geometry.from_spacing((0.5, 0.5), (39 * 0.5, 0.0), np.diag([-1.0, 1.0]))
    misfit = describe_misfit((40, 50), flipped, image)
    assert misfit is not None and misfit.kind == "mirrored" and misfit.overlaps
    assert misfit.message == "the annotation is mirrored top-bottom (y) compared with the scan"


def test_grids_that_only_touch_do_not_overlap(scan):
    # the annotation starts exactly where the scan's last column ends: nothing to resample
    origin = list(scan.geometry.origin)
    origin[2] += SIZE[0] * SPACING[0]
    beside = Geometry.from_spacing(scan.geometry.spacing, origin)
    misfit = describe_misfit(scan.spatial_shape, beside, scan)
    assert misfit is not None and misfit.kind == "origin" and not misfit.overlaps
