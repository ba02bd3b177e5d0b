"""Label maps and boxes read back as written, and refused when they do not fit their scan."""

from __future__ import annotations

import json

import numpy as np
import pytest
from io_scan_files import oblique_scan

from medview.core.boxes import Box
from medview.core.geometry import Geometry
from medview.core.labels import preset
from medview.core.provenance import Provenance
from medview.core.scan import LabelMap, Scan
from medview.io import (
    ScanError,
    list_series,
    open_label_map,
    read_boxes,
    write_boxes,
    write_label_map,
    write_scan,
)


def _label_map(scan: Scan) -> LabelMap:
    array = np.zeros(scan.spatial_shape, np.uint8)
    array[1:3, 2:5, 4:9] = 3
    return LabelMap(array, scan.geometry, preset("ct-abdomen"), Provenance.predicted("threshold", "1.0"))


def test_label_map_round_trip_keeps_values_geometry_table_and_provenance(tmp_path):
    scan = oblique_scan()
    written = _label_map(scan)
    path = write_label_map(written, tmp_path / "truth.nii.gz")

    read = open_label_map(path, like=scan)

    np.testing.assert_array_equal(read.array, written.array)
    assert read.fits(scan)
    assert read.labels == written.labels
    assert read.provenance == written.provenance


def test_a_label_map_on_another_grid_is_refused(tmp_path):
    scan = oblique_scan()
    path = write_label_map(_label_map(scan), tmp_path / "truth.nii.gz")
    shifted = Scan(scan.array, Geometry.from_spacing(scan.spacing, (0, 0, 0)))
    # the oblique columns lean furthest from the axis-aligned grid: arccos(0.8240) = 34.5 degrees
    with pytest.raises(
        ScanError, match="truth.nii.gz: the annotation is rotated by 35 degrees compared with the scan"
    ):
        open_label_map(path, like=shifted)
    smaller = Scan(scan.array[1:], scan.geometry)
    with pytest.raises(
        ScanError,
        match=r"the annotation is 11 x 9 x 6 \(x, y, z\) voxels but the scan is 11 x 9 x 5 \(x, y, z\)",
    ):
        open_label_map(path, like=smaller)


def test_a_png_label_map_takes_its_scans_geometry(tmp_path):
    scan = Scan(np.zeros((8, 10), np.float32), Geometry.from_spacing((0.2, 0.3)), modality="DX")
    labels = LabelMap(np.eye(8, 10, dtype=np.uint8), Geometry.identity(2))
    path = write_label_map(labels, tmp_path / "mask.png")
    read = open_label_map(path, like=scan)
    assert read.fits(scan)
    np.testing.assert_array_equal(read.array, labels.array)


def test_a_label_map_with_fractions_is_refused(tmp_path):
    path = write_scan(
        Scan(np.full((2, 3, 4), 0.5, np.float32), Geometry.identity(3)), tmp_path / "soft.nii.gz"
    )
    with pytest.raises(ScanError, match="soft.nii.gz: a label map must hold whole numbers"):
        open_label_map(path)


def test_boxes_round_trip(tmp_path):
    boxes = [Box(1, 0.9, (2.0, 3.0), (5.0, 7.5)), Box(2, 0.4, (0.0, 1.0), (1.0, 2.0))]
    path = write_boxes(boxes, tmp_path / "boxes.json", preset("ct-abdomen"), "chest.dcm")
    read = read_boxes(path)
    assert read.boxes == boxes and read.labels == preset("ct-abdomen") and read.scan_name == "chest.dcm"


@pytest.mark.parametrize(
    "content", ["not json", json.dumps({"boxes": [{"label": 1}]}), json.dumps({"nothing": []})]
)
def test_a_file_that_is_not_a_box_file_is_refused(tmp_path, content):
    (tmp_path / "boxes.json").write_text(content)
    with pytest.raises(ScanError, match="boxes.json: not a medview box file"):
        read_boxes(tmp_path / "boxes.json")


def test_list_series_is_empty_for_files_that_are_not_dicom(tmp_path):
    path = write_scan(oblique_scan(), tmp_path / "volume.nii.gz")
    assert list_series(path) == []
