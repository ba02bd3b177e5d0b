"""Detection metrics: hand-worked IoU, matching, COCO AP and FROC (agreeing with MONAI's FROC)."""

import numpy as np
import pytest
from monai.metrics import compute_froc_curve_data, compute_froc_score

from medview.core.boxes import Box
from medview.metrics.detection import (
    average_precision,
    box_iou,
    evaluate_detection,
    froc,
    froc_curve,
    match_boxes,
    mean_average_precision,
    precision_recall,
    precision_recall_curve,
)


def b2(y0, x0, y1, x1, score=1.0, label=1):
    return Box(label, score, (y0, x0), (y1, x1))


@pytest.mark.parametrize(
    ("first", "second", "iou"),
    [
        (b2(0, 0, 10, 10), b2(0, 0, 10, 10), 1.0),
        (b2(0, 0, 10, 10), b2(0, 5, 10, 15), 50 / 150),
        (b2(0, 0, 10, 10), b2(10, 10, 20, 20), 0.0),  # touching corners share no area
        (b2(0, 0, 4, 4), b2(1, 1, 3, 3), 4 / 16),  # nested
        (Box(1, 1.0, (0, 0, 0), (2, 2, 2)), Box(1, 1.0, (1, 1, 1), (3, 3, 3)), 1 / 15),
        (Box(1, 1.0, (0, 0, 0), (4, 2, 2)), Box(1, 1.0, (2, 0, 0), (6, 2, 2)), 8 / 24),
    ],
)
def test_box_iou(first, second, iou):
    assert box_iou([first], [second])[0, 0] == pytest.approx(iou)


def test_matching_prefers_high_scores_and_same_label():
    truth = [b2(0, 0, 10, 10)]
    low, high = b2(0, 0, 10, 10, score=0.3), b2(0, 1, 10, 11, score=0.9)
    np.testing.assert_array_equal(match_boxes([low, high], truth), [-1, 0])  # the 0.9 box takes it
    np.testing.assert_array_equal(match_boxes([b2(0, 0, 10, 10, label=2)], truth), [-1])
    np.testing.assert_array_equal(match_boxes([b2(0, 5, 10, 15)], truth, iou_threshold=0.5), [-1])


def test_average_precision_is_coco_101_point():
    truth = [[b2(0, 0, 10, 10), b2(20, 20, 30, 30)]]
    pred = [[b2(0, 0, 10, 10, 0.9), b2(50, 50, 60, 60, 0.8), b2(20, 20, 30, 30, 0.7)]]
    # precision 1, 1/2, 2/3 at recall 1/2, 1/2, 1: envelope 1 up to recall 0.5 (51 points), 2/3 after (50)
    assert average_precision(pred, truth, 1) == pytest.approx((51 * 1.0 + 50 * 2 / 3) / 101)
    assert mean_average_precision(pred, truth, (0.5, 0.75)) == pytest.approx((51 + 50 * 2 / 3) / 101)
    assert average_precision(pred, truth, 2) != average_precision(pred, truth, 2)  # no such class: nan
    assert average_precision([[]], truth, 1) == 0.0


def test_map_over_coco_thresholds_drops_as_boxes_loosen():
    truth = [[b2(0, 0, 10, 10)]]
    exact, loose = [[b2(0, 0, 10, 10, 0.9)]], [[b2(0, 0, 10, 8, 0.9)]]  # IoU 0.8
    assert mean_average_precision(exact, truth, np.arange(0.5, 0.96, 0.05)) == pytest.approx(1.0)
    # matched at 0.50 ... 0.80 (7 of 10 thresholds)
    assert mean_average_precision(loose, truth, np.round(np.arange(0.5, 0.96, 0.05), 2)) == pytest.approx(0.7)


def test_precision_recall_at_score_threshold():
    truth = [[b2(0, 0, 10, 10), b2(20, 20, 30, 30)], [b2(0, 0, 5, 5)]]
    pred = [[b2(0, 0, 10, 10, 0.9), b2(50, 50, 60, 60, 0.6)], [b2(0, 0, 5, 5, 0.4)]]
    assert precision_recall(pred, truth, score_threshold=0.5) == pytest.approx((1 / 2, 1 / 3))
    assert precision_recall(pred, truth, score_threshold=0.3) == pytest.approx((2 / 3, 2 / 3))
    assert precision_recall([[]], [[]]) == (1.0, 1.0)


def test_froc_curve_agrees_with_monai():
    rng = np.random.default_rng(3)
    truth, pred = [], []
    for _ in range(6):
        centres = rng.uniform(0, 80, (3, 2))
        truth.append([b2(*c, *(c + 10)) for c in centres])
        hits = [b2(*(c + rng.uniform(-2, 2, 2)), *(c + 10), score=rng.uniform()) for c in centres[:2]]
        misses = [b2(*(c := rng.uniform(100, 200, 2)), *(c + 5), score=rng.uniform()) for _ in range(4)]
        pred.append(hits + misses)
    fps, sensitivity = froc_curve(pred, truth)
    # the same hit flags as MONAI's inputs
    flags = [match_boxes(p, t) >= 0 for p, t in zip(pred, truth, strict=True)]
    scores = np.concatenate([[box.score for box in p] for p in pred])
    hit = np.concatenate(flags)
    monai_fps, monai_sensitivity = compute_froc_curve_data(scores[~hit], scores[hit], 18, 6)
    # MONAI drops the lowest score as a threshold; ours, reversed to ascending thresholds, keeps it first
    np.testing.assert_allclose(monai_fps, fps[::-1][1:], atol=1e-12)
    np.testing.assert_allclose(monai_sensitivity, sensitivity[::-1][1:], atol=1e-12)
    rates = (0.125, 0.25, 0.5, 1.0, 2.0)  # within MONAI's curve, which ends one detection early
    ours = froc(pred, truth, rates=rates)
    assert ours["score"] == pytest.approx(compute_froc_score(monai_fps, monai_sensitivity, rates), abs=1e-12)
    assert set(froc(pred, truth)) == {"1/8", "1/4", "1/2", "1", "2", "4", "8", "score"}


def test_evaluate_detection_keys():
    truth = [[Box(1, 1.0, (0, 0, 0), (4, 4, 4))]]
    result = evaluate_detection([[Box(1, 0.8, (0, 0, 0), (4, 4, 4))]], truth)
    assert result["ap"] == {1: 1.0}
    assert result["map50"] == result["map50_95"] == 1.0
    assert result["froc"]["1/8"] == 1.0
    with pytest.raises(ValueError, match="images"):
        evaluate_detection([], truth)


def test_precision_recall_curve_follows_scores():
    truth = [[b2(0, 0, 10, 10), b2(20, 20, 30, 30)]]
    pred = [[b2(20, 20, 30, 30, 0.7), b2(0, 0, 10, 10, 0.9), b2(50, 50, 60, 60, 0.8)]]
    recall, precision = precision_recall_curve(pred, truth)
    np.testing.assert_allclose(recall, [0.5, 0.5, 1.0])
    np.testing.assert_allclose(precision, [1.0, 0.5, 2 / 3])
