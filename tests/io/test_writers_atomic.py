"""Writes are atomic: a failure mid-write leaves the previous file exactly as it was."""

from __future__ import annotations

import numpy as np
import pytest
import SimpleITK as sitk

from medview.io.atomic import atomic_path, write_text_atomic, write_with_atomic


def test_a_failed_write_keeps_the_old_file_and_leaves_no_temporary(tmp_path):
    target = tmp_path / "annotation.labels.json"
    write_text_atomic(target, "version 1")
    with pytest.raises(OSError), atomic_path(target) as temporary:
        temporary.write_text("half a vers")
        raise OSError("disk full")
    assert target.read_text() == "version 1"
    assert [p.name for p in tmp_path.iterdir()] == ["annotation.labels.json"]


def test_the_temporary_keeps_the_target_suffixes_so_writers_pick_the_format(tmp_path):
    with atomic_path(tmp_path / "case.nii.gz") as temporary:
        assert temporary.name.endswith(".nii.gz") and temporary.parent == tmp_path
        temporary.write_bytes(b"x")
    assert (tmp_path / "case.nii.gz").read_bytes() == b"x"


def test_a_writer_that_fails_halfway_leaves_no_file_and_no_temporary(tmp_path):
    pixels = sitk.GetImageFromArray(np.zeros((3, 4), np.float32))

    def half_then_fail(temporary):
        temporary.write_bytes(b"\x89PNG half")
        sitk.WriteImage(pixels, str(temporary))  # PNG holds no floats: ITK raises

    with pytest.raises(RuntimeError, match="PNG supports unsigned char and unsigned short"):
        write_with_atomic(tmp_path / "slice.png", half_then_fail)
    assert list(tmp_path.iterdir()) == []
