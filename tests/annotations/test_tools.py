import numpy as np
import pytest

from medview.annotations import tools
from medview.annotations.editor import AnnotationEditor
from medview.core.geometry import Geometry
from medview.core.scan import LabelMap, Scan


def _apply(labels, change):
    labels[change.region] = change.values
    return labels


@pytest.mark.parametrize(
    ("radius", "spacing", "plane_axis", "expected"),
    [
        (1.0, None, None, 7),  # a unit ball: centre + 6 face neighbours
        (1.0, None, 0, 5),  # a unit disc in the axial plane
        (2.0, (2.0, 1.0, 1.0), 0, 13),  # radius 2 mm on 1 mm pixels: 13 pixels in plane
        (2.0, (2.0, 1.0, 1.0), None, 13 + 2),  # one 2 mm slice above and below reach only the centre
    ],
)
def test_brush_voxel_counts(radius, spacing, plane_axis, expected):
    labels = np.zeros((9, 9, 9), dtype=np.uint8)
    _apply(labels, tools.paint(labels, (4, 4, 4), radius, 2, spacing=spacing, plane_axis=plane_axis))
    assert np.count_nonzero(labels == 2) == expected


def test_brush_clips_at_the_edge_and_erases():
    labels = np.ones((5, 5), dtype=np.uint8)
    _apply(labels, tools.paint(labels, (0, 0), 1.0, 0))
    assert np.count_nonzero(labels == 0) == 3


def test_paint_limited_to_intensity_range():
    labels = np.zeros((1, 5, 5), dtype=np.uint8)
    intensity = np.zeros((1, 5, 5))
    intensity[:, :, 3:] = 500
    change = tools.paint(
        labels, (0, 2, 2), 2.0, 1, plane_axis=0, intensity=intensity, intensity_range=(-100, 200)
    )
    _apply(labels, change)
    assert labels[0, :, 3:].sum() == 0 and labels[0, 2, 2] == 1 and labels[0, 2, 0] == 1


def test_fill_stays_in_slice_and_inside_border():
    labels = np.zeros((3, 6, 6), dtype=np.uint8)
    labels[1, 1, :] = 1
    labels[1, :, 1] = 1
    _apply(labels, tools.fill(labels, (1, 0, 0), 2, plane_axis=0))
    assert np.count_nonzero(labels == 2) == 1  # the corner cell cut off by the cross
    _apply(labels, tools.fill(labels, (1, 3, 3), 3, plane_axis=0))
    assert np.count_nonzero(labels == 3) == 16 and not labels[0].any() and not labels[2].any()


def test_fill_3d_reaches_every_connected_voxel():
    labels = np.zeros((4, 4, 4), dtype=np.uint8)
    _apply(labels, tools.fill(labels, (0, 0, 0), 5))
    assert np.all(labels == 5)


def test_interpolation_between_two_discs_gives_intermediate_radii():
    """Signed-distance interpolation of radius 2 and radius 6 discs gives radius 4 halfway."""
    labels = np.zeros((9, 21, 21), dtype=np.uint8)
    yy, xx = np.mgrid[:21, :21]
    distance = np.hypot(yy - 10, xx - 10)
    labels[0][distance <= 2] = 1
    labels[8][distance <= 6] = 1
    labels[4, 0, 0] = 2  # another label is never overwritten
    _apply(labels, tools.interpolate_slices(labels, 1, axis=0))
    middle = labels[4] == 1
    assert middle[10, 10 + 4] and not middle[10, 10 + 5]
    assert all(np.any(labels[k] == 1) for k in range(9))
    assert labels[4, 0, 0] == 2
    areas = [np.count_nonzero(labels[k] == 1) for k in range(9)]
    assert areas == sorted(areas)


def test_interpolation_needs_two_slices():
    labels = np.zeros((5, 5, 5), dtype=np.uint8)
    labels[2, 2, 2] = 1
    change = tools.interpolate_slices(labels, 1, axis=0)
    assert change.values.size == 0


def test_remove_small_islands():
    labels = np.zeros((10, 10), dtype=np.uint8)
    labels[0:4, 0:4] = 1  # 16 px, kept
    labels[8, 8] = 1  # 1 px, removed
    labels[6:8, 0:2] = 2  # 4 px of label 2
    _apply(labels, tools.remove_small_islands(labels, 5, value=1))
    assert labels[8, 8] == 0 and np.count_nonzero(labels == 1) == 16 and np.count_nonzero(labels == 2) == 4
    _apply(labels, tools.remove_small_islands(labels, 5))
    assert np.count_nonzero(labels == 2) == 0


def test_editor_updates_provenance_revision_and_listeners():
    from medview.core.provenance import Provenance

    label_map = LabelMap(
        np.zeros((4, 8, 8), dtype=np.uint8),
        Geometry.identity(3),
        provenance=Provenance.predicted("unet", "2"),
    )
    editor = AnnotationEditor(label_map)
    seen = []
    editor.add_listener(seen.append)
    editor.paint((2, 4, 4), 1.0, 1, plane_axis=0)
    assert label_map.provenance.source == "model+user" and label_map.provenance.model_version == "2"
    assert editor.revision == 1 and len(seen) == 1
    assert editor.paint((2, 4, 4), 1.0, 1, plane_axis=0) is None  # nothing new: no undo step
    editor.undo()
    assert not label_map.array.any() and editor.revision == 2


def test_editor_intensity_needs_a_scan():
    scan = Scan(np.zeros((3, 4, 4), dtype=np.int16), Geometry.identity(3))
    label_map = LabelMap(np.zeros((3, 4, 4), dtype=np.uint8), Geometry.identity(3))
    with pytest.raises(ValueError, match="single-channel scan"):
        AnnotationEditor(label_map).paint((1, 1, 1), 1, 1, intensity_range=(0, 1))
    assert AnnotationEditor(label_map, scan).paint((1, 1, 1), 1, 1, intensity_range=(0, 1)) is not None


def test_record_external_edit_limited_to_intensity():
    from medview.annotations.history import diff_edit

    intensity = np.zeros((1, 4, 4), dtype=np.int16)
    intensity[0, :, 2:] = 1000
    scan = Scan(intensity, Geometry.identity(3))
    label_map = LabelMap(np.zeros((1, 4, 4), dtype=np.uint8), Geometry.identity(3))
    editor = AnnotationEditor(label_map, scan)
    region = (slice(0, 1), slice(0, 4), slice(0, 4))
    before = label_map.array.copy()
    label_map.array[:] = 3  # what napari's brush wrote
    edit = editor.record(diff_edit(region, before, label_map.array.copy()), intensity_range=(-100, 100))
    assert edit.voxel_count == 8
    assert label_map.array[0, :, :2].min() == 3 and label_map.array[0, :, 2:].max() == 0
    editor.undo()
    assert not label_map.array.any()
