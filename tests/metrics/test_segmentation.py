"""Segmentation metrics: hand-worked cases (boxes, spheres, anisotropic spacing, empty masks)."""

import math

import numpy as np
import pytest
from scipy import ndimage

from medview.metrics.segmentation import (
    METRIC_KEYS,
    binary_metrics,
    compute_assd,
    compute_dice,
    compute_hausdorff,
    compute_hd95,
    compute_iou,
    compute_surface_dice,
    compute_volume_ml,
    evaluate_segmentation,
)
from medview.metrics.surface import mask_surface, surface_distances


def box(shape, start, stop):
    mask = np.zeros(shape, dtype=bool)
    mask[tuple(slice(a, b) for a, b in zip(start, stop, strict=True))] = True
    return mask


def sphere(shape, centre_mm, radius_mm, spacing):
    grids = np.meshgrid(*(np.arange(n) * s for n, s in zip(shape, spacing, strict=True)), indexing="ij")
    return sum((g - c) ** 2 for g, c in zip(grids, centre_mm, strict=True)) <= radius_mm**2


SHAPE = (20, 20, 20)
A = box(SHAPE, (2, 2, 2), (12, 12, 12))  # 10x10x10 = 1000 voxels


@pytest.mark.parametrize(
    ("pred", "dice", "iou"),
    [
        (A, 1.0, 1.0),
        (box(SHAPE, (2, 2, 7), (12, 12, 17)), 0.5, 1 / 3),  # shifted half its width: overlap 500
        (box(SHAPE, (2, 2, 2), (12, 12, 7)), 2 * 500 / 1500, 0.5),  # half of A, inside it
        (box(SHAPE, (12, 12, 12), (20, 20, 20)), 0.0, 0.0),  # disjoint
    ],
)
def test_overlap_of_boxes(pred, dice, iou):
    assert compute_dice(pred, A) == pytest.approx(dice)
    assert compute_iou(pred, A) == pytest.approx(iou)


def test_counts_give_sensitivity_specificity_precision_accuracy():
    pred = box(SHAPE, (2, 2, 2), (12, 12, 7))  # 500 voxels, all inside A
    values = binary_metrics(pred, A, (1, 1, 1), distances=False)
    assert values["sensitivity"] == pytest.approx(0.5)  # TP 500 of 1000
    assert values["precision"] == pytest.approx(1.0)
    assert values["specificity"] == pytest.approx(1.0)  # no false positive
    assert values["accuracy"] == pytest.approx((8000 - 500) / 8000)
    assert values["f1"] == values["dice"]
    assert "hd" not in values


def test_volume_uses_anisotropic_spacing():
    spacing = (2.0, 0.5, 0.5)  # 0.5 mm³ voxels
    assert compute_volume_ml(A, spacing) == pytest.approx(1000 * 0.5 / 1000)
    values = binary_metrics(box(SHAPE, (2, 2, 2), (12, 12, 7)), A, spacing)
    assert values["volume_ml_truth"] == pytest.approx(0.5)
    assert values["volume_ml_pred"] == pytest.approx(0.25)
    assert values["volume_ml_diff"] == pytest.approx(-0.25)


def test_sphere_volume_matches_its_formula():
    spacing = (1.5, 0.7, 0.7)
    mask = sphere((40, 90, 90), (30, 31.5, 31.5), 20.0, spacing)
    assert compute_volume_ml(mask, spacing) == pytest.approx(4 / 3 * math.pi * 20**3 / 1000, rel=0.01)


def test_shift_along_anisotropic_axis_gives_shift_in_mm():
    # the same box moved 3 slices along z, with 2.5 mm slices: every surface point of one lies at
    # most 3 slices = 7.5 mm from the other's surface
    spacing = (2.5, 0.8, 0.8)
    shifted = box(SHAPE, (5, 2, 2), (15, 12, 12))
    assert compute_hausdorff(shifted, A, spacing) == pytest.approx(7.5)
    assert compute_hausdorff(shifted, A, (1.0, 0.8, 0.8)) == pytest.approx(3.0)


def test_hd95_and_assd_of_a_row_shift_in_2d():
    # two 10x10 squares one row (2 mm) apart; each square's surface has 36 pixels. Of the pred's:
    # the far row (10 px) is 2 mm from the truth's surface; the near row lies one row inside the truth,
    # 2 mm from its top row except where a side column is nearer (x = 5, 14: 0 mm; x = 6, 13: 1 mm);
    # the side columns lie on the truth's side columns (0 mm). The truth's distances mirror these.
    truth = box((20, 20), (5, 5), (15, 15))
    pred = box((20, 20), (6, 5), (16, 15))
    spacing = (2.0, 1.0)
    d = surface_distances(pred, truth, spacing)
    for directed in (d.pred_to_truth, d.truth_to_pred):
        assert directed.size == 36
        assert np.count_nonzero(directed == 2.0) == 16 and np.count_nonzero(directed == 1.0) == 2
    assert compute_assd(pred, truth, spacing) == pytest.approx(2 * (16 * 2.0 + 2 * 1.0) / 72)
    assert compute_hd95(pred, truth, spacing) == pytest.approx(2.0)
    assert compute_surface_dice(pred, truth, spacing, tolerance_mm=1.0) == pytest.approx(40 / 72)
    assert compute_surface_dice(pred, truth, spacing, tolerance_mm=2.0) == pytest.approx(1.0)


def test_surface_is_face_connected_boundary():
    square = box((7, 7), (1, 1), (6, 6))
    expected = square.copy()
    expected[2:5, 2:5] = False
    np.testing.assert_array_equal(mask_surface(square), expected)
    # a mask touching the array's edge has its surface there
    assert mask_surface(np.ones((3, 3), dtype=bool)).sum() == 8
    blob = np.random.default_rng(0).random((12, 14, 16)) > 0.3
    np.testing.assert_array_equal(mask_surface(blob), blob & ~ndimage.binary_erosion(blob))


EMPTY = np.zeros(SHAPE, dtype=bool)


@pytest.mark.parametrize(
    ("pred", "truth", "expected"),
    [
        (EMPTY, EMPTY, {"dice": 1.0, "iou": 1.0, "sensitivity": 1.0, "precision": 1.0, "specificity": 1.0,
                        "hd": 0.0, "hd95": 0.0, "assd": 0.0, "nsd": 1.0, "volume_ml_diff": 0.0}),
        (A, EMPTY, {"dice": 0.0, "iou": 0.0, "sensitivity": 0.0, "precision": 0.0,
                    "hd": math.inf, "hd95": math.inf, "assd": math.inf, "nsd": 0.0}),
        (EMPTY, A, {"dice": 0.0, "iou": 0.0, "sensitivity": 0.0, "precision": 0.0, "specificity": 1.0,
                    "hd": math.inf, "hd95": math.inf, "assd": math.inf, "nsd": 0.0}),
    ],
    ids=["both-empty", "truth-empty", "pred-empty"],
)  # fmt: skip
def test_empty_masks_have_defined_values(pred, truth, expected):
    values = binary_metrics(pred, truth, (1.0, 2.0, 3.0))
    assert set(values) == set(METRIC_KEYS)
    assert not any(math.isnan(v) for v in values.values())
    for key, value in expected.items():
        assert values[key] == value, key


def test_evaluate_segmentation_scores_each_label():
    pred = np.zeros(SHAPE, dtype=np.uint8)
    truth = np.zeros(SHAPE, dtype=np.uint8)
    truth[A] = 1
    pred[box(SHAPE, (2, 2, 7), (12, 12, 17))] = 1
    truth[0:2, 0:2, 0:2] = 2  # label 2 missed entirely
    result = evaluate_segmentation(pred, truth, (1, 1, 1))
    assert sorted(result) == [1, 2]
    assert result[1]["dice"] == pytest.approx(0.5)
    assert result[2]["dice"] == 0.0 and result[2]["hd"] == math.inf
    assert evaluate_segmentation(pred, truth, (1, 1, 1), labels=[3])[3]["dice"] == 1.0
    # scoring inside the foreground's bounding box counts the voxels outside it as true negatives
    whole = binary_metrics(pred == 1, truth == 1, (1, 1, 1))
    for key in ("specificity", "accuracy", "hd95", "nsd"):
        assert result[1][key] == pytest.approx(whole[key]), key


def test_shape_mismatch_is_refused():
    with pytest.raises(ValueError, match="shape"):
        compute_dice(np.zeros((3, 3)), np.zeros((3, 4)))
    with pytest.raises(ValueError, match="spacing"):
        compute_hausdorff(A, A, (1.0, 1.0))
