"""A partial annotation scored on its annotated slices only, worked out by hand; the worst slice; the
confusion by true class; the table's headings in the scan's units; boxes at a score threshold."""

from __future__ import annotations

import numpy as np
import pytest

from medview.core.boxes import Box
from medview.metrics.review import (
    confusion_by_true_class,
    detection_metric_names,
    differences,
    operating_point,
    review_detection,
    review_segmentation,
    segmentation_columns,
)
from medview.metrics.slices import annotated_slices, partly_annotated, worst_slice

SPACING = (2.0, 1.0, 1.0)


def partial_case() -> tuple[np.ndarray, np.ndarray]:
    """Truth: a 4x4 square on slices 3 and 4 of ten. Prediction: the square moved one column right,
    on all ten slices. Per annotated slice 12 voxels overlap of 16 + 16."""
    truth = np.zeros((10, 10, 10), np.uint8)
    truth[3:5, 2:6, 2:6] = 1
    pred = np.zeros_like(truth)
    pred[:, 2:6, 3:7] = 1
    return pred, truth


def test_annotated_slices_and_when_a_truth_looks_partial():
    pred, truth = partial_case()
    assert annotated_slices(truth).tolist() == [3, 4]
    assert partly_annotated(pred, truth)  # 2 of the prediction's 10 slices are annotated
    assert not partly_annotated(truth, pred)  # the other way round every predicted slice is labelled
    assert not partly_annotated(np.zeros_like(pred), truth)  # nothing predicted: nothing to say


def test_restricted_to_the_annotated_slices_dice_volumes_and_distances_by_hand():
    pred, truth = partial_case()
    review = review_segmentation(pred, truth, SPACING, slices=annotated_slices(truth))
    m = review.metrics[1]
    # 2 slices: TP 24, FP 8 (column 6), FN 8 (column 2), TN 200 - 40 = 160
    assert m["dice"] == pytest.approx(2 * 24 / (2 * 24 + 8 + 8))  # 0.75
    assert m["specificity"] == pytest.approx(160 / 168)
    assert m["volume_ml_pred"] == pytest.approx(32 * 2.0 / 1000) == m["volume_ml_truth"]
    # every voxel of a two-slice slab is surface; only column 6 (pred) and column 2 (truth) are 1 mm off
    assert m["hd95"] == pytest.approx(1.0) and m["hd"] == pytest.approx(1.0)
    assert m["assd"] == pytest.approx((8 + 8) / 64)
    assert review.slices == (3, 4)
    dice = review.slice_dice[1]
    assert dice[[3, 4]] == pytest.approx([0.75, 0.75]) and np.isnan(np.delete(dice, [3, 4])).all()
    assert review.confusion.tolist() == [[160, 8], [8, 24]]


def test_unrestricted_the_unannotated_slices_count_as_false_positives():
    pred, truth = partial_case()
    review = review_segmentation(pred, truth, SPACING)
    m = review.metrics[1]
    # TP 24, FP 160 - 24 = 136, FN 8, TN 1000 - 168 = 832
    assert m["dice"] == pytest.approx(2 * 24 / (2 * 24 + 136 + 8))  # 0.25
    assert m["specificity"] == pytest.approx(832 / 968)
    assert np.isfinite(m["hd95"]) and m["hd95"] > 1.0
    assert review.slices is None
    assert review.slice_dice[1][[0, 3, 9]] == pytest.approx([0.0, 0.75, 0.0])
    assert review.confusion.sum() == 1000


def test_slices_apart_are_scored_without_the_slices_between():
    pred, truth = partial_case()
    truth[3:5] = 0
    truth[[2, 7], 2:6, 2:6] = 1  # annotated slices 2 and 7, far apart
    review = review_segmentation(pred, truth, SPACING, slices=[7, 2, 7])  # any order, repeats ignored
    assert review.slices == (2, 7)
    assert review.metrics[1]["dice"] == pytest.approx(0.75)
    assert review.confusion.sum() == 200  # slices 3..6 are not counted, not even as true negatives
    assert review.metrics[1]["hd95"] == pytest.approx(1.0)  # each slice is its own slab, 10 mm apart


def test_no_annotated_slice_scores_nothing():
    pred, truth = partial_case()
    review = review_segmentation(pred, np.zeros_like(truth), SPACING, slices=())
    assert review.metrics == {} and review.slices == () and review.confusion.sum() == 0


def test_an_edit_reuses_the_labels_it_did_not_touch_with_the_same_slices():
    pred, truth = partial_case()
    truth[3:5, 7, 7] = 2
    first = review_segmentation(pred, truth, SPACING, slices=(3, 4))
    edited = truth.copy()
    edited[3, 7, 7] = 0
    again = review_segmentation(pred, edited, SPACING, previous=first, changed={2, 0}, slices=(3, 4))
    assert again.metrics[1] is first.metrics[1]
    assert again.metrics[2] == review_segmentation(pred, edited, SPACING, slices=(3, 4)).metrics[2]


def test_slices_outside_the_volume_are_refused():
    pred, truth = partial_case()
    with pytest.raises(ValueError, match="outside"):
        review_segmentation(pred, truth, SPACING, slices=[3, 10])


@pytest.mark.parametrize(
    ("dice", "worst"),
    [([np.nan, 0.5, 0.2, np.nan, 0.2], 2), ([np.nan, np.nan], None), ([1.0, 0.0], 1)],
)
def test_worst_slice_skips_slices_without_the_label(dice, worst):
    assert worst_slice(np.array(dice)) == worst


def test_the_reviews_worst_slice_of_a_label():
    pred, truth = partial_case()
    pred[4, 2:6, 2:7] = 0  # slice 4 missed entirely: Dice 0 there, 0.75 on slice 3
    review = review_segmentation(pred, truth, SPACING, slices=(3, 4))
    assert review.worst_slice(1) == 4 and review.worst_slice(9) is None


def test_confusion_by_true_class_divides_each_row_by_its_total():
    shown = confusion_by_true_class(np.array([[3, 1], [0, 0]]))
    assert shown[0].tolist() == [0.75, 0.25] and np.isnan(shown[1]).all()


@pytest.mark.parametrize(
    ("units", "ndim", "headings", "volume_scale"),
    [
        ("mm", 3, ["HD95 (mm)", "ASSD (mm)", "surface Dice at 2 mm", "true volume (mL)"], 1.0),
        ("mm", 2, ["HD95 (mm)", "ASSD (mm)", "true area (mm²)"], 1000.0),
        ("um", 2, ["HD95 (µm)", "ASSD (µm)", "surface Dice at 2 µm", "true area (µm²)"], 1000.0),
        ("pixel", 3, ["HD95 (px)", "ASSD (px)", "surface Dice at 2 px", "true volume (px³)"], 1000.0),
        ("pixel", 2, ["HD95 (px)", "true area (px²)", "area difference (px²)"], 1000.0),
    ],
)
def test_headings_name_the_scans_units_and_never_invent_mm(units, ndim, headings, volume_scale):
    columns = {column.heading: column for column in segmentation_columns(units, ndim)}
    assert set(headings) <= set(columns)
    size = next(column for column in columns.values() if column.key == "volume_ml_truth")
    assert size.scale == volume_scale  # volume_ml is voxels × voxel size / 1000
    if units != "mm":
        assert not any("mm" in heading or "mL" in heading for heading in columns)


def test_a_volume_of_unknown_pixel_size_is_shown_in_voxels():
    pred, truth = partial_case()
    review = review_segmentation(pred, truth, (1.0, 1.0, 1.0))
    column = next(c for c in segmentation_columns("pixel", 3) if c.key == "volume_ml_truth")
    assert column.value(review.metrics[1]) == pytest.approx(32)  # 32 voxels: 32 px³


TRUTH = [Box(1, 1.0, (0, 0), (10, 10)), Box(1, 1.0, (20, 20), (30, 30))]
PRED = [Box(1, 0.9, (0, 0), (10, 10)), Box(1, 0.8, (50, 50), (60, 60)), Box(1, 0.3, (20, 20), (30, 30))]


@pytest.mark.parametrize(
    ("threshold", "shown", "false_positive", "missed", "precision", "recall", "f1"),
    [
        (0.5, [1, 1, 0], [0, 1, 0], [0, 1], 0.5, 0.5, 0.5),
        (0.2, [1, 1, 1], [0, 1, 0], [0, 0], 2 / 3, 1.0, 0.8),
        (0.85, [1, 0, 0], [0, 0, 0], [0, 1], 1.0, 0.5, 2 / 3),
        (0.95, [0, 0, 0], [0, 0, 0], [1, 1], 0.0, 0.0, 0.0),
    ],
)
def test_boxes_at_a_score_threshold(threshold, shown, false_positive, missed, precision, recall, f1):
    point = operating_point(PRED, TRUTH, threshold)
    assert point.shown.tolist() == [bool(v) for v in shown]
    assert point.false_positive.tolist() == [bool(v) for v in false_positive]
    assert point.missed.tolist() == [bool(v) for v in missed]
    assert (point.precision, point.recall, point.f1) == pytest.approx((precision, recall, f1))
    assert point.false_positives == sum(false_positive)


def test_detection_metrics_are_named_in_words():
    review = review_detection(PRED, TRUTH, iou_threshold=0.3, score_threshold=0.5)
    named = detection_metric_names(review, {1: "nodule"})
    assert named["AP at IoU 0.5"] == review.metrics["map50"]
    assert named["AP at IoU 0.5:0.95"] == review.metrics["map50_95"]
    assert named["AP at IoU 0.3, nodule"] == review.metrics["ap"][1]
    assert named["F1 at IoU 0.3"] == pytest.approx(0.5)
    assert named["precision at IoU 0.3"] == 0.5 and named["recall at IoU 0.3"] == 0.5
    assert named["sensitivity at 1 false positive per image"] == review.metrics["froc"]["1"]
    assert "sensitivity at 1/8 false positives per image" in named
    jargon = ("ap ", "froc", "map50", "_")
    assert not [name for name in named if any(word in name for word in jargon)]


def test_differences_keep_the_first_order():
    assert differences({"b": 1.0, "a": 2.0}, {"a": 3.0, "b": 0.5, "c": 1.0}) == {
        "b": (1.0, 0.5, -0.5),
        "a": (2.0, 3.0, 1.0),
    }
