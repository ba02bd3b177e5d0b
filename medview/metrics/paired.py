"""Paired comparison of two models on the same cases: per-case differences and a bootstrap interval.

"Is the new version better?" is a paired question: both versions are scored on each case, and the
case-to-case spread (some scans are simply harder) cancels in the per-case difference. The mean
difference gets a percentile bootstrap interval over cases; an interval that excludes zero means
the improvement is unlikely to come from which cases happened to be chosen.

The percentile bootstrap is only trustworthy with enough cases: its interval is too narrow for few
cases (with 3 cases it is the range of the resampled means, and a nominal 95% interval covers the
true mean difference about 75% of the time for normally spread differences; about 90% at 10 cases,
checked in ``tests/metrics/test_paired.py``). Below :data:`MIN_CASES_FOR_INTERVAL` the comparison
therefore lists the per-case differences and gives no interval and no verdict.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from medview.metrics.bootstrap import DEFAULT_RESAMPLES, Estimate, bootstrap_many

MIN_CASES_FOR_INTERVAL = 10
"""Fewer scored cases get no interval and no verdict: the percentile bootstrap's 95% interval covers
the true mean about 90% of the time at 10 cases and far less below (see the module docstring)."""
METHOD = "paired bootstrap percentile 95% interval over cases"


@dataclass(frozen=True)
class PairedCase:
    """One case's score under each model; ``nan`` when the score is undefined for that case."""

    case: str
    old: float
    new: float

    @property
    def difference(self) -> float:
        return self.new - self.old


@dataclass(frozen=True)
class PairedComparison:
    """Two models scored on the same cases with one metric (higher is better unless told otherwise).

    ``old``, ``new`` and ``difference`` are means over the cases where both scores are defined, each
    with its bootstrap 95% interval; ``wins`` counts cases where the new model scores better.
    """

    metric: str
    cases: tuple[PairedCase, ...]
    old: Estimate
    new: Estimate
    difference: Estimate
    wins: int
    losses: int
    ties: int
    higher_is_better: bool = True
    resamples: int = DEFAULT_RESAMPLES

    @property
    def scored(self) -> int:
        """Cases with both scores defined."""
        return self.wins + self.losses + self.ties

    @property
    def has_interval(self) -> bool:
        """Enough scored cases (:data:`MIN_CASES_FOR_INTERVAL`) for the bootstrap interval to mean much."""
        return self.scored >= MIN_CASES_FOR_INTERVAL

    @property
    def method(self) -> str:
        """How the interval was made, for people and JSON; empty when there is none."""
        return f"{METHOD}, {self.resamples} resamples" if self.has_interval else ""

    @property
    def improved(self) -> bool:
        """True when the whole interval of the difference lies on the better side of zero."""
        if not self.has_interval:
            return False
        return self.difference.low > 0 if self.higher_is_better else self.difference.high < 0

    @property
    def worsened(self) -> bool:
        """True when the whole interval of the difference lies on the worse side of zero."""
        if not self.has_interval:
            return False
        return self.difference.high < 0 if self.higher_is_better else self.difference.low > 0

    @property
    def verdict(self) -> str:
        """``better``, ``worse``, ``not clearly different``, or ``too few cases`` (no interval)."""
        if not self.has_interval:
            return "too few cases"
        return "better" if self.improved else "worse" if self.worsened else "not clearly different"

    @property
    def clearly_worse(self) -> bool:
        """Worse beyond the case-to-case noise: the interval lies below zero, or, with too few cases
        for an interval, the score dropped on every one of at least two scored cases."""
        if self.has_interval:
            return self.worsened
        return self.scored >= 2 and self.losses == self.scored

    def differences(self) -> list[float]:
        """The per-case differences (new minus old) of the scored cases, in case order."""
        return [c.difference for c in self.cases if np.isfinite(c.old) and np.isfinite(c.new)]

    def describe(self, cases_word: str = "cases") -> str:
        """One line for people, e.g. ``dice 0.8410 -> 0.8550, difference +0.0140 (paired bootstrap ...):
        the new version is better, better on 9 of 12 test cases``."""
        if self.scored == 0:
            return f"{self.metric}: no case has both scores"
        d = self.difference
        change = f"{self.metric} {self.old.value:.4f} -> {self.new.value:.4f}, difference {d.value:+.4f}"
        tally = f"better on {self.wins} of {self.scored} {cases_word}"
        if not self.has_interval:
            listed = ", ".join(f"{value:+.4f}" for value in self.differences())
            return (
                f"{change}; too few {cases_word} for a verdict ({self.scored}; a paired bootstrap interval "
                f"needs at least {MIN_CASES_FOR_INTERVAL}), per-case differences {listed}; {tally}"
            )
        interval = f"95% interval {d.low:+.4f} to {d.high:+.4f}, {METHOD}"
        return f"{change} ({interval}): the new version is {self.verdict}, {tally}"

    def to_dict(self) -> dict:
        return {
            "metric": self.metric,
            "higher_is_better": self.higher_is_better,
            "old": self.old.to_dict(),
            "new": self.new.to_dict(),
            "difference": self.difference.to_dict()
            if self.has_interval
            else {"value": self.difference.value, "low": None, "high": None},
            "wins": self.wins,
            "losses": self.losses,
            "ties": self.ties,
            "improved": self.improved,
            "worsened": self.worsened,
            "verdict": self.verdict,
            "method": self.method,
            "scored": self.scored,
            "minimum_for_interval": MIN_CASES_FOR_INTERVAL,
            "cases": [
                {"case": c.case, "old": c.old, "new": c.new, "difference": c.difference} for c in self.cases
            ],
        }


def compare_paired(
    cases: Sequence[str],
    old: Sequence[float],
    new: Sequence[float],
    metric: str,
    higher_is_better: bool = True,
    resamples: int = DEFAULT_RESAMPLES,
    seed: int = 0,
) -> PairedComparison:
    """Compare per-case scores ``old`` and ``new`` of the same ``cases`` (same order).

    Cases where either score is not finite are listed but left out of the means, the interval and
    the win count, so both models are always summarised over the same cases.
    """
    if not len(cases) == len(old) == len(new):
        raise ValueError(f"{len(cases)} cases but {len(old)} old and {len(new)} new scores")
    rows = tuple(PairedCase(str(c), float(o), float(n)) for c, o, n in zip(cases, old, new, strict=True))
    both = np.array([np.isfinite(r.old) and np.isfinite(r.new) for r in rows], dtype=bool)
    old_values = np.array([r.old for r in rows], dtype=np.float64)[both]
    new_values = np.array([r.new for r in rows], dtype=np.float64)[both]
    if old_values.size == 0:
        missing = Estimate(float("nan"), float("nan"), float("nan"))
        return PairedComparison(metric, rows, missing, missing, missing, 0, 0, 0, higher_is_better, resamples)

    def means(o: np.ndarray, n: np.ndarray) -> dict[str, float]:
        return {"old": float(o.mean()), "new": float(n.mean()), "difference": float((n - o).mean())}

    estimates = bootstrap_many(means, old_values, new_values, resamples=resamples, seed=seed)
    gain = (new_values - old_values) * (1 if higher_is_better else -1)
    return PairedComparison(
        metric,
        rows,
        estimates["old"],
        estimates["new"],
        estimates["difference"],
        wins=int(np.sum(gain > 0)),
        losses=int(np.sum(gain < 0)),
        ties=int(np.sum(gain == 0)),
        higher_is_better=higher_is_better,
        resamples=resamples,
    )
