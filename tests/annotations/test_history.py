import numpy as np

from medview.annotations.editor import AnnotationEditor
from medview.annotations.history import History, diff_edit
from medview.core.geometry import Geometry
from medview.core.scan import LabelMap


def test_undo_and_redo_restore_exact_voxels():
    array = np.zeros((4, 5, 6), dtype=np.uint8)
    history = History()
    region = (slice(1, 3), slice(0, 5), slice(2, 4))
    after = array[region].copy()
    after[0, 1, 1] = 7
    after[1, 4, 0] = 3
    edit = diff_edit(region, array[region], after, "paint")
    array[region] = after
    history.push(edit)
    assert edit.voxel_count == 2
    assert history.undo(array) is edit
    assert not array.any()
    history.redo(array)
    assert array[1, 1, 3] == 7 and array[2, 4, 2] == 3 and array.sum() == 10


def test_no_edit_when_nothing_changes():
    array = np.ones((3, 3), dtype=np.uint8)
    assert diff_edit((slice(0, 3), slice(0, 3)), array, array.copy()) is None


def test_memory_grows_with_stroke_not_volume():
    """A 5 mm brush stroke into a 512x512x300 map costs kilobytes, not the 78 MB of the volume."""
    label_map = LabelMap(np.zeros((300, 512, 512), dtype=np.uint8), Geometry.from_spacing((1.0, 0.8, 0.8)))
    editor = AnnotationEditor(label_map)
    for step in range(20):
        editor.paint((150, 100 + 5 * step, 200), 5.0, 1)
    per_stroke = editor.history.nbytes / 20
    assert per_stroke < 10_000
    assert editor.history.nbytes < label_map.array.nbytes / 1000


def test_new_edit_clears_redo_and_budget_drops_oldest():
    array = np.zeros(100, dtype=np.uint8).reshape(10, 10)
    history = History(max_bytes=200)
    for row in range(10):
        region = (slice(row, row + 1), slice(0, 10))
        after = np.full((1, 10), row + 1, dtype=np.uint8)
        history.push(diff_edit(region, array[region], after))
        array[region] = after
    assert history.nbytes <= 200
    history.undo(array)
    assert history.can_redo
    region = (slice(0, 1), slice(0, 1))
    history.push(diff_edit(region, array[region], np.full((1, 1), 99, dtype=np.uint8)))
    assert not history.can_redo


def test_edit_from_overlapping_writes_keeps_first_old_and_last_new():
    from medview.annotations.history import edit_from_voxels

    array = np.zeros((3, 4, 5), dtype=np.uint8)
    array[2, 3, 4] = 9
    flat = np.ravel_multi_index(([1, 1, 2, 0], [1, 1, 3, 0], [2, 2, 4, 0]), array.shape)
    # voxel (1,1,2) is painted 3 then 4; (2,3,4) 9 -> 5; (0,0,0) 0 -> 0 is no change
    edit = edit_from_voxels(array.shape, flat, np.array([0, 3, 9, 0]), np.array([3, 4, 5, 0]), "stroke")
    assert edit.region == (slice(1, 3), slice(1, 4), slice(2, 5)) and edit.voxel_count == 2
    edit.apply(array, forward=True)
    assert array[1, 1, 2] == 4 and array[2, 3, 4] == 5
    edit.apply(array, forward=False)
    assert array[1, 1, 2] == 0 and array[2, 3, 4] == 9
    assert edit_from_voxels(array.shape, flat[3:], np.array([0]), np.array([0])) is None
