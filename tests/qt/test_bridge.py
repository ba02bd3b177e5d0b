"""Scans, label maps and boxes keep their geometry on the way into napari layers and back."""

from __future__ import annotations

import numpy as np
import pytest
from napari.components import ViewerModel

from medview.core.boxes import Box
from medview.core.geometry import Geometry
from medview.core.labels import preset
from medview.core.scan import LabelMap, Scan
from medview.qt.bridge import (
    GEOMETRY_KEY,
    LABEL_MAP_KEY,
    add_boxes,
    add_label_map,
    add_scan,
    boxes_from_layer,
    display_geometry,
    label_map_from_layer,
    patient_position,
    scan_from_layer,
)

OBLIQUE_IN_PLANE = np.array([[1.0, 0.0, 0.0], [0.0, 0.8, 0.6], [0.0, -0.6, 0.8]])  # rotated about z


def dicom_direction(row_xyz, column_xyz) -> np.ndarray:
    """medview's direction matrix (array order, world (S, P, L)) of a DICOM ImageOrientationPatient."""
    row = np.asarray(row_xyz, float) / np.linalg.norm(row_xyz)
    column = np.asarray(column_xyz, float) / np.linalg.norm(column_xyz)
    normal = np.cross(row, column)
    return np.stack([normal[::-1], column[::-1], row[::-1]], axis=1)


# the oblique single-slice MR that napari cannot draw: its rows run along -S, across the sliced axis
OBLIQUE_MR = Geometry.from_spacing(
    (5.0, 0.8, 0.6), (30.0, 20.0, 10.0), dicom_direction((0.569, 0.822, 0), (0, 0, -1))
)
SAGITTAL = Geometry.from_spacing(
    (2.5, 0.8, 0.6), (-100.0, 30.0, -20.0), dicom_direction((0, 1, 0), (0, 0, -1))
)
_TILT = np.radians(12)
GANTRY_TILT = Geometry.from_spacing(
    (2.5, 0.7, 0.7), (0, 0, 0), np.array([[np.cos(_TILT), 0, 0], [np.sin(_TILT), 1, 0], [0, 0, 1]])
)
ROTATED_2D = Geometry.from_spacing((0.2, 0.2), (5, 5), np.array([[0.6, -0.8], [0.8, 0.6]]))


@pytest.mark.parametrize(
    ("geometry", "stored_order", "placed_by"),
    [
        (Geometry.from_spacing((2.0, 0.7, 0.5), (10, -20, 30)), False, "scale"),
        (Geometry.from_spacing((2.0, 0.7, 0.5), (10, -20, 30), OBLIQUE_IN_PLANE), False, "affine"),
        (GANTRY_TILT, False, "affine"),  # drawn as before, without the out-of-slice shear
        (ROTATED_2D, False, "affine"),  # 2D: napari draws any rotation
        (OBLIQUE_MR, True, "scale"),
        (SAGITTAL, True, "scale"),
    ],
    ids=["axis-aligned", "in-plane rotation", "gantry tilt", "rotated 2D", "oblique MR slice", "sagittal"],
)
def test_display_geometry_shows_in_stored_order_only_what_napari_cannot_draw(
    geometry, stored_order, placed_by
):
    kwargs, shown_in_stored_order = display_geometry(geometry)
    assert shown_in_stored_order is stored_order
    assert placed_by in kwargs
    if stored_order:  # rows down, columns right: pixel spacing as scale, no rotation, no offset
        assert set(kwargs) == {"scale", "translate"}
        np.testing.assert_allclose(kwargs["scale"], geometry.spacing)
        np.testing.assert_allclose(kwargs["translate"], 0.0)


def test_display_geometry_gives_a_time_axis_unit_scale_in_stored_order_too():
    kwargs, stored_order = display_geometry(OBLIQUE_MR, leading_axes=1)
    assert stored_order
    np.testing.assert_allclose(kwargs["scale"], (1.0, *OBLIQUE_MR.spacing))
    assert len(kwargs["translate"]) == 4


def test_labels_and_boxes_on_a_scan_shown_in_stored_order_share_its_transform_and_keep_its_geometry():
    viewer = ViewerModel()
    scan = Scan(np.arange(1 * 6 * 8, dtype=np.int16).reshape(1, 6, 8), OBLIQUE_MR, modality="MR")
    image = add_scan(viewer, scan)
    label_map = LabelMap(np.zeros((1, 6, 8), np.uint8), OBLIQUE_MR, preset("lung-nodule"))
    labels = add_label_map(viewer, label_map)
    boxes = add_boxes(viewer, [Box(1, 0.9, (0, 1, 2), (1, 4, 6))], preset("lung-nodule"), OBLIQUE_MR)
    for layer in (labels, boxes):
        np.testing.assert_allclose(layer.scale, image.scale)
        np.testing.assert_allclose(layer.translate, image.translate)
        np.testing.assert_allclose(layer.affine.affine_matrix, image.affine.affine_matrix)
        assert layer.metadata[GEOMETRY_KEY] is OBLIQUE_MR

    del labels.metadata[LABEL_MAP_KEY]  # a labels layer that only knows its real geometry
    labels.data[0, 2, 3] = 1
    back = label_map_from_layer(labels)
    assert back.geometry.matches(OBLIQUE_MR) and back.array[0, 2, 3] == 1


@pytest.mark.parametrize(
    "geometry", [OBLIQUE_MR, SAGITTAL, Geometry.from_spacing((2.0, 0.7, 0.5), (1, 2, 3))]
)
def test_patient_position_maps_what_is_shown_back_through_the_real_geometry(geometry):
    viewer = ViewerModel()
    layer = add_scan(viewer, Scan(np.zeros((3, 6, 8), np.int16), geometry))
    for index in [(0, 0, 0), (2, 5, 7), (1, 2.5, 3.25)]:
        shown = layer.data_to_world(index)
        np.testing.assert_allclose(patient_position(layer, shown), geometry.index_to_world(index), atol=1e-9)


def test_axis_aligned_scan_uses_spacing_as_scale_and_origin_as_translate():
    viewer = ViewerModel()
    scan = Scan(np.zeros((4, 5, 6), np.int16), Geometry.from_spacing((2.0, 0.7, 0.5), (10, -20, 30)))
    layer = add_scan(viewer, scan)
    np.testing.assert_allclose(layer.scale, (2.0, 0.7, 0.5))
    np.testing.assert_allclose(layer.translate, (10, -20, 30))
    assert scan_from_layer(layer) is scan


def test_in_plane_rotated_scan_maps_every_voxel_to_the_same_world_point_as_its_geometry():
    viewer = ViewerModel()
    geometry = Geometry.from_spacing((2.0, 0.7, 0.5), (10, -20, 30), OBLIQUE_IN_PLANE)
    layer = add_scan(viewer, Scan(np.zeros((4, 5, 6), np.int16), geometry))
    for index in [(0, 0, 0), (3, 4, 5), (1, 2, 3)]:
        np.testing.assert_allclose(layer.data_to_world(index), geometry.index_to_world(index), atol=1e-9)


def test_painting_the_layer_edits_the_label_map_and_keeps_its_table():
    viewer = ViewerModel()
    label_map = LabelMap(
        np.zeros((3, 8, 8), np.uint8), Geometry.from_spacing((3, 1, 1)), preset("liver-lesion")
    )
    layer = add_label_map(viewer, label_map)
    layer.data[1, 2:4, 2:4] = 2
    back = label_map_from_layer(layer)
    assert back.array[1, 2, 2] == 2 and back.labels.name_of(2) == "lesion"
    assert layer.colormap.map(np.array([2]))[0][:3] == pytest.approx((1.0, 220 / 255, 0.0))


def test_a_labels_layer_drawn_in_plain_napari_becomes_a_user_label_map_with_its_geometry():
    viewer = ViewerModel()
    layer = viewer.add_labels(np.zeros((4, 4), np.int32), scale=(0.5, 0.25), translate=(1, 2))
    label_map = label_map_from_layer(layer)
    assert label_map.geometry.spacing == pytest.approx((0.5, 0.25))
    assert label_map.geometry.origin == pytest.approx((1, 2))
    assert label_map.provenance.source == "user"


@pytest.mark.parametrize(
    "boxes",
    [
        [Box(1, 0.9, (2.0, 3.0), (7.0, 9.0)), Box(1, 0.4, (10.0, 10.0), (12.0, 15.0))],
        [Box(1, 0.8, (1.0, 2.0, 3.0), (4.0, 6.0, 9.0))],
    ],
)
def test_boxes_survive_a_trip_through_a_shapes_layer_even_after_the_cache_is_dropped(boxes):
    viewer = ViewerModel()
    ndim = boxes[0].ndim
    layer = add_boxes(viewer, boxes, preset("lung-nodule"), Geometry.from_spacing((1.0,) * ndim))
    assert layer.features["label"].tolist() == ["nodule"] * len(layer.data)
    layer.metadata.clear()  # as if the layer had been edited: rebuild from the rectangles
    back = boxes_from_layer(layer, preset("lung-nodule"))
    assert [(b.start, b.stop) for b in back] == [(b.start, b.stop) for b in boxes]
    assert [b.score for b in back] == pytest.approx([b.score for b in boxes])


def test_a_box_drawn_by_hand_into_an_empty_boxes_layer_gets_the_tables_first_class():
    viewer = ViewerModel()
    layer = add_boxes(viewer, [], preset("lung-nodule"), Geometry.from_spacing((1.0, 1.0)))
    layer.add_rectangles(np.array([[1.5, 2.5], [5.5, 8.5]]))
    [box] = boxes_from_layer(layer, preset("lung-nodule"))
    assert (box.label, box.score, box.start, box.stop) == (1, 1.0, (2.0, 3.0), (6.0, 9.0))


def test_layers_napari_derives_with_another_shape_are_not_taken_for_the_scan_or_its_label_map():
    """napari's split, projection and conversion copy the medview metadata onto the layers they make."""
    viewer = ViewerModel()
    geometry = Geometry.from_spacing((2.0, 0.7, 0.5), (10, -20, 30))
    scan = Scan(np.zeros((4, 5, 6), np.int16), geometry)
    image = add_scan(viewer, scan)
    projection = viewer.add_image(np.zeros((5, 6)), metadata=dict(image.metadata), scale=(0.7, 0.5))
    as_labels = viewer.add_labels(np.zeros((4, 5, 6), np.uint8), metadata=dict(image.metadata))
    assert scan_from_layer(image) is scan
    assert scan_from_layer(projection) is None and scan_from_layer(as_labels) is None

    label_map = LabelMap(np.zeros((4, 5, 6), np.uint8), geometry, preset("liver-lesion"))
    known = add_label_map(viewer, label_map).metadata
    flat = viewer.add_labels(np.ones((5, 6), np.uint8), metadata=dict(known), scale=(0.7, 0.5))
    back = label_map_from_layer(flat)
    assert back.array.shape == (5, 6) and back.geometry.spacing == pytest.approx((0.7, 0.5))
