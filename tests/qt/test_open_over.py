"""A DICOM SEG of the open series joins it as a labels layer; undecodable slide tiles are told once,
naming the file, while the slide stays open."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest
import tifffile
from napari.layers import Image, Labels

pytestmark = pytest.mark.gui
sys.path.insert(0, str(Path(__file__).parents[1] / "io"))

from dicom_meaning_files import write_ct, write_seg  # noqa: E402
from fuzz_seeds import write_slide  # noqa: E402


def _open(qtbot, window, path) -> None:
    window.open_path(path)
    qtbot.waitUntil(lambda: not window.task_bar.busy, timeout=20_000)


def test_a_seg_of_the_open_series_is_laid_over_it(qtbot, main_window, errors, tmp_path):
    volume = np.arange(4 * 10 * 12, dtype=np.int16).reshape(4, 10, 12)
    headers = write_ct(tmp_path / "ct", volume)
    masks = np.zeros((4, 10, 12, 1), np.uint8)
    masks[1:3, 2:6, 3:9, 0] = 1
    seg = write_seg(tmp_path / "elsewhere" / "seg.dcm", headers, masks, ["liver"])

    _open(qtbot, main_window, tmp_path / "ct")
    scan_layer = main_window.scan_layer
    _open(qtbot, main_window, seg)

    assert errors == []
    assert main_window.scan_layer is scan_layer  # the CT stays; the SEG joins it
    (labels,) = [layer for layer in main_window.viewer.layers if isinstance(layer, Labels)]
    assert labels.name == "SEG organs"
    np.testing.assert_array_equal(np.asarray(labels.data) == 1, masks[..., 0] == 1)
    assert labels.scale == pytest.approx(scan_layer.scale) and labels.translate == pytest.approx(
        scan_layer.translate
    )


def test_a_seg_of_another_series_opens_on_its_own(qtbot, main_window, errors, dialogs, tmp_path):
    headers = write_ct(tmp_path / "ct", np.zeros((3, 8, 8), np.int16))
    write_ct(tmp_path / "other", np.ones((3, 8, 8), np.int16))
    masks = np.zeros((3, 8, 8, 1), np.uint8)
    masks[1, 2:5, 2:5, 0] = 1
    seg = write_seg(tmp_path / "elsewhere" / "seg.dcm", headers, masks, ["lesion"])

    _open(qtbot, main_window, tmp_path / "other")
    _open(qtbot, main_window, seg)

    images = [layer for layer in main_window.viewer.layers if isinstance(layer, Image)]
    assert len(images) == 1 and images[0].metadata["medview_scan"].modality == "SEG"
    ((kind, title, text),) = dialogs
    assert kind == "warning" and "the referenced images" in text and "shown alone" in text


def _corrupt_tile(path: Path, index: int) -> None:
    with tifffile.TiffFile(path) as tiff:
        page = tiff.pages.first
        offset, count = page.dataoffsets[index], page.databytecounts[index]
    data = bytearray(path.read_bytes())
    data[offset + 2 : offset + count] = b"\xff\x01" * ((count - 2) // 2) + b"\x00" * ((count - 2) % 2)
    path.write_bytes(bytes(data))


def test_undecodable_tiles_are_told_once_and_the_slide_stays_open(qtbot, main_window, errors, tmp_path):
    path = tmp_path / "slide.tif"
    write_slide(path, size=512, tile=128)
    _corrupt_tile(path, 5)  # level 0, row 1, column 1

    _open(qtbot, main_window, path)
    scan = main_window.scan_layer.metadata["medview_scan"]
    np.asarray(scan.levels[0][:, :])  # what panning over the whole slide at full resolution reads
    np.asarray(scan.levels[0][128:256, :])

    qtbot.waitUntil(lambda: bool(errors), timeout=5_000)
    qtbot.wait(50)
    assert len(errors) == 1  # one dialog per slide, however often the tile is read
    title, text = errors[0]
    assert "slide.tif: level 0, tile at row 1, column 1" in text and "stays open" in text
    assert main_window.scan_layer is not None and main_window.scan_layer.metadata["medview_scan"] is scan
    assert "slide.tif: level 0" in main_window.statusBar().currentMessage()
