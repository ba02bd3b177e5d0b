"""Many cases: cumulative evaluator, worst-first table, summaries, per-slice Dice, error map, CSV."""

import csv
import math

import numpy as np
import pytest

from medview.core.errors import InputError
from medview.core.geometry import Geometry
from medview.core.labels import preset
from medview.core.scan import LabelMap
from medview.metrics.cumulative import SegmentationEvaluator, evaluate_cases, worst_first
from medview.metrics.report import rows_to_csv, summary_to_csv
from medview.metrics.review import changed_labels, review_segmentation
from medview.metrics.slices import error_map, slice_dice

GEOMETRY = Geometry.from_spacing((2.0, 1.0, 1.0))


def label_map(array):
    return LabelMap(array.astype(np.uint8), GEOMETRY, preset("liver-lesion"))


def truth_and_shifted(shift):
    truth = np.zeros((10, 20, 20), dtype=np.uint8)
    truth[2:8, 5:15, 5:15] = 1
    return label_map(truth), label_map(np.roll(truth, shift, axis=2))


def test_evaluate_cases_names_labels_and_sorts_worst_first():
    pairs = []
    for case, shift in (("good", 1), ("bad", 5), ("fair", 3)):
        truth, pred = truth_and_shifted(shift)
        pairs.append((case, pred, truth))
    seen = []
    evaluator = evaluate_cases(pairs, progress=lambda fraction, message: seen.append(fraction))
    rows = evaluator.aggregate()
    assert [row.case for row in rows] == ["good", "bad", "fair"]
    assert rows[0].label_name == "liver"
    assert rows[1].values["dice"] == pytest.approx(0.5)  # 10-wide square moved by 5
    assert [row.case for row in worst_first(rows)] == ["bad", "fair", "good"]
    assert [row.case for row in worst_first(rows, "hd95")] == ["bad", "fair", "good"]
    assert seen[-1] == 1.0
    dice = [row.values["dice"] for row in rows]
    summary = {s.metric: s for s in evaluator.summary(resamples=200)}["dice"]
    assert summary.mean.value == pytest.approx(np.mean(dice))
    assert summary.median == pytest.approx(np.median(dice))
    assert summary.mean.low <= summary.mean.value <= summary.mean.high
    assert summary.cases == 3
    evaluator.reset()
    assert evaluator.aggregate() == []


def test_infinite_distance_sorts_as_worst_and_is_left_out_of_means():
    evaluator = SegmentationEvaluator()
    truth, pred = truth_and_shifted(1)
    evaluator("fine", pred.array, truth.array, (1, 1, 1))
    evaluator("missed", np.zeros_like(truth.array), truth.array, (1, 1, 1), labels=[1])
    assert worst_first(evaluator.aggregate(), "hd")[0].case == "missed"
    hd = {s.metric: s for s in evaluator.summary(resamples=50)}["hd"]
    assert hd.cases == 1 and math.isfinite(hd.mean.value)


def test_evaluate_cases_refuses_another_grid():
    truth, pred = truth_and_shifted(1)
    moved = LabelMap(pred.array, Geometry.from_spacing((2.0, 1.0, 1.0), origin=(0, 0, 5.0)))
    with pytest.raises(InputError, match="voxel grid"):
        evaluate_cases([("c", moved, truth)])


def test_slice_dice_and_error_map():
    truth = np.zeros((4, 6, 6), dtype=np.uint8)
    pred = np.zeros_like(truth)
    truth[1:3, 0:4, 0:4] = 1
    pred[1, 0:4, 0:4] = 1  # slice 1 perfect, slice 2 missed
    pred[3, 0:2, 0:2] = 1  # slice 3 a false positive
    dice = slice_dice(pred, truth, 1)
    assert np.isnan(dice[0]) and dice[1] == 1.0 and dice[2] == 0.0 and dice[3] == 0.0
    errors = error_map(pred, truth)
    assert np.count_nonzero(errors == 2) == 16 and np.count_nonzero(errors == 1) == 4
    assert error_map(pred, truth, label=2).sum() == 0


def test_csv_export(tmp_path):
    truth, pred = truth_and_shifted(2)
    evaluator = evaluate_cases([("case-1", pred, truth)])
    path = rows_to_csv(evaluator.aggregate(), tmp_path / "out" / "cases.csv")
    rows = list(csv.DictReader(path.read_text().splitlines()))
    assert rows[0]["case"] == "case-1" and rows[0]["name"] == "liver"
    assert float(rows[0]["dice"]) == pytest.approx(evaluator.aggregate()[0].values["dice"])
    summary_path = summary_to_csv(evaluator.summary(resamples=10), tmp_path / "s.csv")
    summary = list(csv.DictReader(summary_path.read_text().splitlines()))
    assert {row["metric"] for row in summary} >= {"dice", "hd95", "volume_ml_truth"}
    assert list(tmp_path.joinpath("out").iterdir()) == [path]  # no temporary left behind


def test_review_confusion_counts_every_voxel_once():
    rng = np.random.default_rng(8)
    truth = rng.choice([0, 1, 2, 5], size=(6, 20, 20), p=[0.7, 0.1, 0.1, 0.1]).astype(np.uint8)
    pred = np.where(rng.random(truth.shape) < 0.2, rng.choice([0, 1, 2, 5], size=truth.shape), truth)
    review = review_segmentation(pred, truth, (1.0, 1.0, 1.0))
    assert review.values == [0, 1, 2, 5]
    lookup = {v: i for i, v in enumerate(review.values)}
    expected = np.zeros((4, 4), dtype=np.int64)
    for t, p in zip(truth.ravel(), pred.ravel(), strict=True):
        expected[lookup[t], lookup[p]] += 1
    np.testing.assert_array_equal(review.confusion, expected)
    assert set(review.slice_dice) == {1, 2, 5} and review.slice_dice[1].shape == (6,)


def test_review_after_an_edit_recomputes_only_changed_labels():
    truth = np.zeros((8, 30, 30), dtype=np.uint8)
    truth[1:7, 2:12, 2:12] = 1
    truth[2:6, 15:25, 15:25] = 2
    pred = np.roll(truth, 1, axis=1)
    first = review_segmentation(pred, truth, (2.0, 1.0, 1.0))
    edited = truth.copy()
    edited[3, 15:18, 15:18] = 0  # erase a corner of label 2
    changed = changed_labels(truth, edited)
    assert changed == {0, 2}
    again = review_segmentation(pred, edited, (2.0, 1.0, 1.0), previous=first, changed=changed)
    fresh = review_segmentation(pred, edited, (2.0, 1.0, 1.0))
    assert again.metrics[1] is first.metrics[1]  # reused
    assert again.metrics == fresh.metrics
    np.testing.assert_array_equal(again.confusion, fresh.confusion)
