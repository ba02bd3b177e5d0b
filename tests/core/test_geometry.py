import numpy as np
import pytest

from medview.core.geometry import Geometry

OBLIQUE = np.array([[0.8, 0.6, 0.0], [-0.6, 0.8, 0.0], [0.0, 0.0, 1.0]])


def oblique_geometry() -> Geometry:
    return Geometry.from_spacing((2.5, 0.7, 0.4), (10.0, -20.0, 30.0), OBLIQUE)


def test_spacing_origin_direction_are_derived_from_the_affine():
    geometry = oblique_geometry()
    assert geometry.spacing == pytest.approx((2.5, 0.7, 0.4))
    assert geometry.origin == pytest.approx((10.0, -20.0, 30.0))
    np.testing.assert_allclose(geometry.direction, OBLIQUE)
    assert not geometry.is_axis_aligned
    assert Geometry.from_spacing((1, 2)).is_axis_aligned


def test_index_to_world_steps_one_spacing_along_each_axis_direction():
    geometry = oblique_geometry()
    origin = geometry.index_to_world((0, 0, 0))
    np.testing.assert_allclose(origin, (10, -20, 30))
    np.testing.assert_allclose(geometry.index_to_world((0, 1, 0)) - origin, 0.7 * OBLIQUE[:, 1])
    np.testing.assert_allclose(geometry.index_to_world((2, 0, 0)) - origin, 5.0 * OBLIQUE[:, 0])


def test_world_to_index_inverts_index_to_world_for_many_points():
    geometry = oblique_geometry()
    points = np.random.default_rng(1).uniform(-50, 50, size=(100, 3))
    np.testing.assert_allclose(geometry.world_to_index(geometry.index_to_world(points)), points, atol=1e-9)


def test_matches_tolerates_float32_rounding_but_not_a_real_shift():
    geometry = oblique_geometry()
    rounded = Geometry(geometry.affine.astype(np.float32).astype(np.float64))
    assert geometry.matches(rounded)
    shifted = Geometry.from_spacing((2.5, 0.7, 0.4), (10.0, -20.0, 30.01), OBLIQUE)
    assert not geometry.matches(shifted)
    assert geometry != shifted


@pytest.mark.parametrize(
    "affine, message",
    [
        (np.eye(3)[:2], "square"),
        (np.diag([1.0, 0.0, 1.0]), "singular"),
        (np.array([[1, 0, 0], [0, 1, 0], [1, 0, 1.0]]), "last row"),
    ],
)
def test_invalid_affines_are_refused(affine, message):
    with pytest.raises(ValueError, match=message):
        Geometry(affine)


def test_affine_cannot_be_changed_in_place():
    geometry = Geometry.identity(2)
    with pytest.raises(ValueError):
        geometry.affine[0, 0] = 5
