"""One case's scores and their summary over cases, on hand-computed cases."""

from __future__ import annotations

import math

import numpy as np
import pytest
from sklearn.metrics import roc_auc_score

from medview.core.boxes import Box
from medview.core.labels import LabelClass, LabelTable
from medview.metrics.case_scores import box_scores, class_scores, label_scores, public, summarise

LABELS = LabelTable([LabelClass(1, "liver", (200, 0, 0)), LabelClass(2, "lesion", (0, 200, 0))])


def test_dice_per_class_counts_only_the_classes_the_annotation_holds():
    truth = np.zeros((4, 4), np.uint8)
    truth[0, :] = 1  # 4 liver pixels, no lesion
    predicted = np.zeros((4, 4), np.uint8)
    predicted[0, :2] = 1  # 2 of them
    predicted[3, 3] = 2  # a lesion the annotation does not hold: undefined, not 0

    scores = label_scores(predicted, truth, LABELS)

    assert scores == {"dice": pytest.approx(2 * 2 / 6), "dice_liver": pytest.approx(2 * 2 / 6)}


def test_segmentation_summary_is_the_mean_of_case_means_and_classes_over_their_cases():
    rows = [{"dice": 0.8, "dice_liver": 0.8}, {"dice": 0.55, "dice_liver": 0.6, "dice_lesion": 0.5}]

    summary = summarise(rows, "dice")

    # not the mean of the class means (0.7 and 0.5 -> 0.6): the mean of what each case scored
    assert summary == pytest.approx({"dice": 0.675, "dice_lesion": 0.5, "dice_liver": 0.7})
    assert list(summary)[0] == "dice"


def _box(y: float, x: float, score: float = 1.0, size: float = 10.0) -> Box:
    return Box(1, score, (y, x), (y + size, x + size))


def test_box_scores_of_one_image():
    truth = [_box(0, 0), _box(50, 50), _box(100, 100)]
    predicted = [
        _box(1, 1, 0.9),  # IoU 81/119 with the first: a hit
        _box(51, 55, 0.8),  # IoU 45/155 = 0.29 with the second: below 0.3, a false positive
        _box(200, 200, 0.7),  # nothing there: a false positive
        _box(100, 100, 0.4),  # on the third, but under the score threshold: not counted
    ]

    scores = box_scores(predicted, truth)

    # 1 hit, 2 false positives, 2 missed: F1 = 2 / (2 + 4)
    assert scores == pytest.approx({"f1": 1 / 3, "precision": 1 / 3, "recall": 1 / 3})


def test_box_scores_when_an_image_has_no_box():
    assert box_scores([], []) == {
        "f1": 1.0,
        "precision": pytest.approx(math.nan, nan_ok=True),
        "recall": pytest.approx(math.nan, nan_ok=True),
    }
    nothing_found = box_scores([], [_box(0, 0)])
    assert (
        nothing_found["f1"] == 0.0
        and nothing_found["recall"] == 0.0
        and math.isnan(nothing_found["precision"])
    )
    summary = summarise([nothing_found, box_scores([_box(0, 0)], [_box(0, 0)])], "f1")
    assert summary == pytest.approx({"f1": 0.5, "precision": 1.0, "recall": 0.5})


def test_classification_accuracy_and_the_auc_of_two_classes_agree_with_scikit_learn():
    probabilities = [(0.1, 0.9), (0.4, 0.6), (0.9, 0.1), (0.3, 0.7), (0.8, 0.2)]
    truth = [1, 0, 0, 1, 1]
    rows = [class_scores(p, t) for p, t in zip(probabilities, truth, strict=True)]

    summary = summarise(rows, "accuracy")

    assert [public(row) for row in rows] == [{"accuracy": v} for v in (1.0, 0.0, 1.0, 1.0, 0.0)]
    assert summary["accuracy"] == pytest.approx(0.6)
    assert summary["roc_auc"] == pytest.approx(roc_auc_score(truth, [p[1] for p in probabilities]))
    assert set(summary) == {"accuracy", "roc_auc"}
