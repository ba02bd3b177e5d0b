import numpy as np

from medview.annotations.autosave import Autosaver, discard, draft_path, find_drafts, recover
from medview.annotations.editor import AnnotationEditor
from medview.core.geometry import Geometry
from medview.core.labels import preset
from medview.core.scan import LabelMap


class FakeClock:
    def __init__(self):
        self.now = 0.0

    def __call__(self):
        return self.now


def _editor():
    geometry = Geometry.from_spacing((2.0, 0.5, 0.7), origin=(10.0, -3.0, 4.0))
    return AnnotationEditor(LabelMap(np.zeros((6, 16, 16), dtype=np.uint8), geometry, preset("liver-lesion")))


def test_writes_only_when_dirty_and_due_then_recovers(tmp_path):
    editor, clock = _editor(), FakeClock()
    saver = Autosaver(editor, tmp_path, "case/01", source="/scans/01.nii.gz", interval_s=5, clock=clock)
    clock.now = 10
    assert not saver.tick()  # nothing edited
    editor.paint((3, 8, 8), 2.0, 2, plane_axis=0)
    assert saver.tick()
    saver.flush()
    assert not saver.dirty
    editor.paint((3, 2, 2), 1.0, 1, plane_axis=0)
    clock.now = 12
    assert not saver.tick()  # edited but not yet due
    clock.now = 15.5
    assert saver.tick()
    saver.flush()
    (draft,) = find_drafts(tmp_path)
    assert draft.case_id == "case/01" and draft.source == "/scans/01.nii.gz"
    recovered = recover(draft)
    assert np.array_equal(recovered.array, editor.array)
    assert recovered.geometry == editor.label_map.geometry
    assert recovered.labels == preset("liver-lesion")
    assert recovered.provenance.source == "user"
    discard(draft)
    assert find_drafts(tmp_path) == []


def test_clear_after_a_real_save_removes_the_draft(tmp_path):
    editor = _editor()
    saver = Autosaver(editor, tmp_path, "c1", interval_s=0)
    editor.paint((1, 1, 1), 1.0, 1)
    saver.tick()
    saved_revision = editor.revision
    editor.paint((2, 2, 2), 1.0, 1)  # edited while the save was being written
    saver.flush()
    saver.clear(saved_revision)
    assert find_drafts(tmp_path) != []  # the draft still holds the newer edit
    saver.clear(editor.revision)
    assert not saver.dirty and find_drafts(tmp_path) == []


def test_broken_and_partial_drafts_are_ignored(tmp_path):
    draft_path(tmp_path, "bad").write_bytes(b"not a zip")
    (tmp_path / ".c1.abc.tmp.draft.npz").write_bytes(b"partial")
    assert find_drafts(tmp_path) == []


def test_write_failure_is_reported_and_retried(tmp_path):
    editor = _editor()
    blocker = tmp_path / "file"
    blocker.write_text("a file where the draft folder should be")
    saver = Autosaver(editor, blocker / "drafts", "c1", interval_s=0)
    editor.paint((1, 1, 1), 1.0, 1)
    saver.tick()
    saver.flush()
    assert isinstance(saver.error, OSError) and saver.dirty
