import json

import numpy as np
import pytest

from medview.annotations.coco import read_coco, to_coco, write_coco
from medview.annotations.geojson import read_geojson, to_geojson, write_geojson
from medview.core.boxes import Box
from medview.core.errors import InputError
from medview.core.geometry import Geometry
from medview.core.labels import LabelClass, LabelTable, preset
from medview.core.scan import LabelMap


def test_coco_bbox_is_x_y_width_height_and_round_trips(tmp_path):
    labels = preset("lung-nodule")
    boxes = [Box(1, 0.75, (10.0, 20.0), (15.0, 28.0))]
    document = to_coco({"cxr.png": ((256, 200), boxes)}, labels)
    assert document["annotations"][0]["bbox"] == [20.0, 10.0, 8.0, 5.0]
    assert document["images"][0] == {"id": 1, "file_name": "cxr.png", "height": 256, "width": 200}
    assert document["categories"] == [{"id": 1, "name": "nodule"}]
    path = write_coco(
        tmp_path / "coco.json", {"cxr.png": ((256, 200), boxes), "empty.png": ((9, 9), [])}, labels
    )
    read, table = read_coco(path)
    assert read == {"cxr.png": boxes, "empty.png": []} and table.name_of(1) == "nodule"


def test_coco_refuses_3d_boxes_and_bad_files(tmp_path):
    with pytest.raises(InputError, match="ct.nii.gz has a 3D box"):
        to_coco({"ct.nii.gz": ((4, 4), [Box(1, 1.0, (0, 0, 0), (1, 1, 1))])}, LabelTable())
    bad = tmp_path / "bad.json"
    bad.write_text("{}")
    with pytest.raises(InputError, match="bad.json: not a COCO"):
        read_coco(bad)


def _slide_mask():
    array = np.zeros((40, 50), dtype=np.uint8)
    array[5:25, 5:30] = 1
    array[10:15, 10:15] = 0  # a hole
    array[30:35, 40:45] = 2
    array[32, 2] = 1  # a one-pixel nucleus
    labels = LabelTable([LabelClass(1, "tumour", (200, 0, 0)), LabelClass(2, "stroma", (0, 150, 0))])
    return LabelMap(array, Geometry.from_spacing((0.5, 0.5)), labels)


def test_geojson_features_are_qupath_polygons_in_level0_pixels(tmp_path):
    label_map = _slide_mask()
    document = to_geojson(label_map)
    assert document["type"] == "FeatureCollection" and len(document["features"]) == 3
    tumour = document["features"][0]
    assert tumour["properties"]["classification"] == {"name": "tumour", "color": [200, 0, 0]}
    outer, hole = tumour["geometry"]["coordinates"]
    xs, ys = np.array(outer).T
    assert (xs.min(), xs.max(), ys.min(), ys.max()) == (5.0, 30.0, 5.0, 25.0)  # pixel edges
    assert outer[0] == outer[-1] and hole[0] == hole[-1]
    doubled = to_geojson(label_map, downsample=2.0)["features"][0]["geometry"]["coordinates"][0]
    assert np.array(doubled).max(axis=0).tolist() == [60.0, 50.0]


def test_geojson_round_trip_restores_the_mask(tmp_path):
    label_map = _slide_mask()
    path = write_geojson(label_map, tmp_path / "slide.geojson", downsample=4.0)
    assert json.loads(path.read_text())["features"][0]["properties"]["objectType"] == "annotation"
    array = read_geojson(path, label_map.array.shape, label_map.labels, downsample=4.0)
    assert np.array_equal(array, label_map.array)
    with pytest.raises(InputError, match="classes not in the label table: stroma"):
        read_geojson(path, label_map.array.shape, LabelTable([LabelClass(1, "tumour", (1, 1, 1))]), 4.0)


def test_geojson_is_for_2d():
    with pytest.raises(InputError, match="2D"):
        to_geojson(LabelMap(np.zeros((2, 2, 2), dtype=np.uint8), Geometry.identity(3)))
