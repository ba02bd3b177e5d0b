"""Classification metrics agree with scikit-learn; bootstrap intervals are reproducible and sensible."""

import numpy as np
import pytest
from sklearn import metrics as sk

from medview.metrics.bootstrap import bootstrap, mean_interval
from medview.metrics.classification import (
    average_precision,
    class_scores,
    confusion_matrix,
    evaluate_classification,
    precision_recall_curve,
    roc_auc,
    roc_curve,
)


def data(seed, n=200, ties=False):
    rng = np.random.default_rng(seed)
    truth = rng.integers(0, 2, n)
    scores = np.clip(truth * 0.3 + rng.normal(0.4, 0.25, n), 0, 1)
    return truth, np.round(scores, 1) if ties else scores


@pytest.mark.parametrize(("seed", "ties"), [(0, False), (1, True), (2, True)])
def test_auc_roc_and_ap_equal_scikit_learn(seed, ties):
    truth, scores = data(seed, ties=ties)
    assert roc_auc(truth, scores) == pytest.approx(sk.roc_auc_score(truth, scores), abs=1e-12)
    assert average_precision(truth, scores) == pytest.approx(
        sk.average_precision_score(truth, scores), abs=1e-12
    )
    sk_precision, sk_recall, _ = sk.precision_recall_curve(truth, scores)
    recall, precision = precision_recall_curve(truth, scores)
    np.testing.assert_allclose(recall, sk_recall[:-1][::-1])
    np.testing.assert_allclose(precision, sk_precision[:-1][::-1])
    fpr, tpr, _ = sk.roc_curve(truth, scores, drop_intermediate=False)
    curve = roc_curve(truth, scores)
    np.testing.assert_allclose(curve.fpr, fpr)
    np.testing.assert_allclose(curve.tpr, tpr)


def test_confusion_and_scores_equal_scikit_learn():
    rng = np.random.default_rng(4)
    truth, predicted = rng.integers(0, 3, 100), rng.integers(0, 3, 100)
    matrix = confusion_matrix(truth, predicted, 3)
    np.testing.assert_array_equal(matrix, sk.confusion_matrix(truth, predicted))
    scores = class_scores(matrix, 2)
    assert scores["accuracy"] == pytest.approx(sk.accuracy_score(truth, predicted))
    assert scores["sensitivity"] == pytest.approx(sk.recall_score(truth == 2, predicted == 2))
    assert scores["precision"] == pytest.approx(sk.precision_score(truth == 2, predicted == 2))
    assert scores["f1"] == pytest.approx(sk.f1_score(truth == 2, predicted == 2))
    assert scores["specificity"] == pytest.approx(sk.recall_score(truth != 2, predicted != 2))


def test_hand_worked_binary_case():
    truth = [0, 0, 1, 1]
    probabilities = [0.1, 0.6, 0.4, 0.9]  # predicted 0, 1, 0, 1
    result = evaluate_classification(truth, probabilities, resamples=200)
    assert result["confusion"] == [[1, 1], [1, 1]]
    assert result["accuracy"].value == 0.5
    assert result["auc"].value == pytest.approx(0.75)  # 3 of the 4 positive-negative pairs ordered right


def test_multiclass_auc_is_macro_one_vs_rest():
    rng = np.random.default_rng(5)
    truth = rng.integers(0, 3, 150)
    logits = rng.normal(size=(150, 3)) + np.eye(3)[truth] * 1.5
    probabilities = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
    result = evaluate_classification(truth, probabilities, resamples=100)
    expected = sk.roc_auc_score(truth, probabilities, multi_class="ovr", average="macro")
    assert result["auc"].value == pytest.approx(expected, abs=1e-12)
    assert np.array(result["confusion"]).sum() == 150


def test_bootstrap_interval_brackets_and_is_reproducible():
    truth, scores = data(6, n=300)
    first = bootstrap(roc_auc, truth, scores, resamples=300, seed=1)
    again = bootstrap(roc_auc, truth, scores, resamples=300, seed=1)
    assert first == again
    assert first.low < first.value < first.high
    assert first.high - first.low < 0.2
    wider = bootstrap(roc_auc, truth[:40], scores[:40], resamples=300, seed=1)
    assert wider.high - wider.low > first.high - first.low


def test_mean_interval_of_known_normal_sample():
    values = np.random.default_rng(7).normal(10.0, 2.0, 400)
    estimate = mean_interval(values, resamples=500)
    half_width = 1.96 * 2.0 / np.sqrt(400)
    assert estimate.high - estimate.low == pytest.approx(2 * half_width, rel=0.2)
    assert estimate.value == pytest.approx(values.mean())
    assert estimate.low < estimate.value < estimate.high
    assert np.isnan(mean_interval([np.nan]).value)
