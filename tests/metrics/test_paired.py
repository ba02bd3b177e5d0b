"""Paired comparison: means, paired difference with its interval, wins, and undefined cases left out."""

from __future__ import annotations

import math

import numpy as np
import pytest

from medview.metrics.bootstrap import DEFAULT_RESAMPLES
from medview.metrics.paired import MIN_CASES_FOR_INTERVAL, compare_paired

GAINS = np.array([0.05, 0.04, 0.06, 0.05, 0.03, 0.05, 0.04, 0.06, 0.05, 0.04])  # mean 0.047


def test_a_consistent_gain_has_an_interval_above_zero():
    old = np.array([0.60, 0.70, 0.80, 0.65, 0.75, 0.72, 0.68, 0.71, 0.77, 0.62])
    new = old + GAINS

    result = compare_paired([f"c{i}" for i in range(10)], old, new, "dice")

    assert result.old.value == pytest.approx(old.mean())
    assert result.new.value == pytest.approx(new.mean())
    assert result.difference.value == pytest.approx(0.047)
    assert 0.03 <= result.difference.low < result.difference.value < result.difference.high <= 0.06
    assert (result.wins, result.losses, result.ties) == (10, 0, 0)
    assert result.improved and result.verdict == "better"
    assert (
        result.method == f"paired bootstrap percentile 95% interval over cases, {DEFAULT_RESAMPLES} resamples"
    )
    assert "better on 10 of 10 test cases" in result.describe("test cases")


def test_mixed_results_are_not_called_better():
    old = [0.5, 0.6, 0.7, 0.8] * 3
    new = [0.6, 0.5, 0.8, 0.7] * 3

    result = compare_paired([f"c{i}" for i in range(12)], old, new, "dice")

    assert result.difference.value == pytest.approx(0.0)
    assert result.difference.low < 0 < result.difference.high
    assert (result.wins, result.losses) == (6, 6)
    assert not result.improved and not result.worsened
    assert "not clearly different" in result.describe()


def test_three_test_cases_get_their_differences_and_no_verdict():
    """The demo's situation: a consistent gain on 3 cases is not called better."""
    result = compare_paired(["a", "b", "c"], [0.80, 0.70, 0.75], [0.82, 0.69, 0.79], "dice")

    assert not result.has_interval and result.verdict == "too few cases"
    assert not result.improved and not result.worsened
    assert result.differences() == pytest.approx([0.02, -0.01, 0.04])
    text = result.describe("test cases")
    assert "too few test cases for a verdict (3; a paired bootstrap interval needs at least 10)" in text
    assert "per-case differences +0.0200, -0.0100, +0.0400" in text
    document = result.to_dict()
    assert document["difference"] == {"value": pytest.approx(0.05 / 3), "low": None, "high": None}
    assert document["verdict"] == "too few cases" and document["method"] == ""


def test_the_minimum_is_where_the_percentile_interval_starts_to_cover():
    """Why 10: for normally spread differences the nominal 95% percentile-bootstrap interval of the
    mean covers the true mean about 75% of the time with 3 cases and about 90% with 10 (simulated
    here directly with numpy, independently of medview's bootstrap)."""
    rng = np.random.default_rng(7)

    def coverage(n: int, datasets: int = 1500, resamples: int = 400) -> float:
        data = rng.normal(size=(datasets, n))
        picks = rng.integers(0, n, size=(datasets, resamples, n))
        means = np.take_along_axis(np.repeat(data[:, None, :], resamples, 1), picks, 2).mean(2)
        low, high = np.percentile(means, [2.5, 97.5], axis=1)
        return float(np.mean((low < 0) & (high > 0)))

    assert coverage(3) < 0.80
    assert 0.87 <= coverage(MIN_CASES_FOR_INTERVAL) <= 0.93


def test_cases_undefined_for_either_model_are_listed_but_not_counted():
    result = compare_paired(["a", "b", "c"], [0.5, math.nan, 0.7], [0.6, 0.9, math.nan], "dice")

    assert len(result.cases) == 3 and result.scored == 1
    assert result.old.value == pytest.approx(0.5) and result.new.value == pytest.approx(0.6)
    assert result.to_dict()["cases"][1]["case"] == "b"


def test_lower_is_better_turns_the_verdict():
    cases = [f"c{i}" for i in range(10)]
    old = np.arange(5.0, 15.0)
    result = compare_paired(cases, old, old - 1 - GAINS, "hd95", higher_is_better=False)

    assert result.wins == 10 and result.improved

    worse = compare_paired(cases, old, old + 1 + GAINS, "hd95", higher_is_better=False)
    assert worse.worsened and worse.clearly_worse and "is worse" in worse.describe()


def test_a_class_worse_on_every_one_of_few_cases_is_flagged():
    assert compare_paired(["a", "b", "c"], [0.8, 0.7, 0.9], [0.7, 0.6, 0.85], "dice").clearly_worse
    assert not compare_paired(["a", "b", "c"], [0.8, 0.7, 0.9], [0.7, 0.75, 0.85], "dice").clearly_worse


def test_lengths_must_match():
    with pytest.raises(ValueError, match="2 cases but 1 old and 2 new"):
        compare_paired(["a", "b"], [0.1], [0.2, 0.3], "dice")


def test_two_cases_get_numbers_but_no_verdict():
    result = compare_paired(["a", "b"], [0.5, 0.6], [0.7, 0.8], "dice")

    assert result.wins == 2 and not result.improved and not result.worsened
    assert (
        "too few cases for a verdict" in result.describe() and "better on 2 of 2 cases" in result.describe()
    )
