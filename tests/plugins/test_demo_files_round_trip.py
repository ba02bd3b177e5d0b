"""What ``medview demo --out`` writes reopens with the geometry it was made with, so the bundled models
give the same results from disk as from memory (a radiograph written without its pixel size used to
reopen at 1 mm per pixel, and the nodule detector's recall fell from 1.0 to about 0.3)."""

from __future__ import annotations

import numpy as np
import pytest
from medview_plugins.nodule_detector.plugin import NoduleDetector
from medview_plugins.nuclei_unet2d.plugin import NucleiUNet2D

from medview.cli.main import main
from medview.demo import make_radiograph, make_tile
from medview.io import open_label_map, open_scan, read_boxes
from medview.metrics.detection import precision_recall
from medview.metrics.segmentation import compute_dice
from medview.models.engine import Engine

pytestmark = pytest.mark.slow
SEED = 3  # the CLI's first case of seed S has seed S * 1000
CPU = Engine.create("cpu")


@pytest.fixture(scope="module")
def written(tmp_path_factory):
    out = tmp_path_factory.mktemp("demo")
    assert main(["demo", "--out", str(out), "--seed", str(SEED)]) == 0
    return out


def _detections(scan, truth) -> tuple[list, float]:
    boxes = NoduleDetector(CPU).predict(scan).boxes
    return boxes, precision_recall([boxes], [truth], iou_threshold=0.3, score_threshold=0.5)[1]


def test_the_radiograph_reopens_as_a_calibrated_dx_and_detects_the_same(written):
    case = make_radiograph(SEED * 1000)
    path = written / "radiograph" / f"{case.name}_image.dcm"
    scan = open_scan(path)
    assert scan.modality == "DX" and scan.units == "mm" and scan.warnings == []
    assert scan.spacing == pytest.approx(case.scan.spacing) and scan.spacing == pytest.approx((0.4, 0.4))
    np.testing.assert_array_equal(scan.array, case.scan.array)
    truth = read_boxes(written / "radiograph" / f"{case.name}_boxes.json").boxes
    assert truth == case.boxes

    (memory_boxes, memory_recall), (disk_boxes, disk_recall) = (
        _detections(case.scan, case.boxes),
        _detections(scan, truth),
    )
    assert disk_boxes == memory_boxes and disk_recall == memory_recall
    assert memory_recall >= 0.75  # 3 of this case's 4 nodules at IoU 0.3


def test_the_tile_reopens_as_a_calibrated_slide_and_segments_the_same(written):
    case = make_tile(SEED * 1000)
    scan = open_scan(written / "tile" / f"{case.name}_image.tif")
    assert scan.modality == "SM" and scan.units == "um" and scan.is_multiscale
    assert scan.spacing == pytest.approx((0.5, 0.5))
    np.testing.assert_array_equal(np.asarray(scan.array), case.scan.array)
    truth = open_label_map(written / "tile" / f"{case.name}_truth.png", like=scan)
    np.testing.assert_array_equal(truth.array, case.truth.array)

    plugin = NucleiUNet2D(CPU)
    from_memory = compute_dice(plugin.predict(case.scan).label_map.array == 1, case.truth.array == 1)
    from_disk = compute_dice(plugin.predict(scan).label_map.array == 1, truth.array == 1)
    assert from_disk == pytest.approx(from_memory, abs=1e-9)
    assert from_memory > 0.8
