"""Paired comparison: means, paired difference with its interval, wins, and undefined cases left out."""

from __future__ import annotations

import math

import numpy as np
import pytest

from medview.metrics.paired import compare_paired


def test_a_consistent_gain_has_an_interval_above_zero():
    old = np.array([0.60, 0.70, 0.80, 0.65, 0.75, 0.72])
    new = old + np.array([0.05, 0.04, 0.06, 0.05, 0.03, 0.05])

    result = compare_paired([f"c{i}" for i in range(6)], old, new, "dice")

    assert result.old.value == pytest.approx(old.mean())
    assert result.new.value == pytest.approx(new.mean())
    assert result.difference.value == pytest.approx(0.04666667)
    assert 0.03 <= result.difference.low < result.difference.value < result.difference.high <= 0.06
    assert (result.wins, result.losses, result.ties) == (6, 0, 0)
    assert result.improved
    assert "better on 6 of 6 cases" in result.describe()


def test_mixed_results_are_not_called_better():
    result = compare_paired(["a", "b", "c", "d"], [0.5, 0.6, 0.7, 0.8], [0.6, 0.5, 0.8, 0.7], "dice")

    assert result.difference.value == pytest.approx(0.0)
    assert result.difference.low < 0 < result.difference.high
    assert (result.wins, result.losses) == (2, 2)
    assert not result.improved and not result.worsened
    assert "not clearly different" in result.describe()


def test_cases_undefined_for_either_model_are_listed_but_not_counted():
    result = compare_paired(["a", "b", "c"], [0.5, math.nan, 0.7], [0.6, 0.9, math.nan], "dice")

    assert len(result.cases) == 3 and result.scored == 1
    assert result.old.value == pytest.approx(0.5) and result.new.value == pytest.approx(0.6)
    assert result.to_dict()["cases"][1]["case"] == "b"


def test_lower_is_better_turns_the_verdict():
    result = compare_paired(["a", "b", "c"], [5.0, 6.0, 7.0], [4.0, 5.0, 6.0], "hd95", higher_is_better=False)

    assert result.wins == 3 and result.improved

    worse = compare_paired(["a", "b", "c"], [4.0, 5.0, 6.0], [5.0, 6.0, 7.0], "hd95", higher_is_better=False)
    assert worse.worsened and "is worse" in worse.describe()


def test_lengths_must_match():
    with pytest.raises(ValueError, match="2 cases but 1 old and 2 new"):
        compare_paired(["a", "b"], [0.1], [0.2, 0.3], "dice")


def test_fewer_than_three_cases_get_numbers_but_no_verdict():
    result = compare_paired(["a", "b"], [0.5, 0.6], [0.7, 0.8], "dice")

    assert result.wins == 2 and not result.improved and not result.worsened
    assert "too few cases for an interval or a verdict, better on 2 of 2 cases" in result.describe()
