"""Paired comparison of two models on the same cases: per-case differences and a bootstrap interval.

"Is the new version better?" is a paired question: both versions are scored on each case, and the
case-to-case spread (some scans are simply harder) cancels in the per-case difference. The mean
difference gets a percentile bootstrap interval over cases; an interval that excludes zero means
the improvement is unlikely to come from which cases happened to be chosen.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from medview.metrics.bootstrap import DEFAULT_RESAMPLES, Estimate, bootstrap_many

MIN_CASES_FOR_VERDICT = 3
"""Fewer cases give no meaningful interval: the comparison then reports the numbers and no verdict."""


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

    @property
    def scored(self) -> int:
        """Cases with both scores defined."""
        return self.wins + self.losses + self.ties

    @property
    def improved(self) -> bool:
        """True when the whole interval of the difference lies on the better side of zero (and there
        are at least :data:`MIN_CASES_FOR_VERDICT` cases to have an interval)."""
        if self.scored < MIN_CASES_FOR_VERDICT:
            return False
        if self.higher_is_better:
            return self.difference.low > 0
        return self.difference.high < 0

    @property
    def worsened(self) -> bool:
        """True when the whole interval of the difference lies on the worse side of zero (and there
        are at least :data:`MIN_CASES_FOR_VERDICT` cases)."""
        if self.scored < MIN_CASES_FOR_VERDICT:
            return False
        if self.higher_is_better:
            return self.difference.high < 0
        return self.difference.low > 0

    def describe(self) -> str:
        """One line for people: ``dice 0.8410 -> 0.8550, difference +0.0140 (95% CI ...); ...``."""
        if self.scored == 0:
            return f"{self.metric}: no case has both scores"
        d = self.difference
        change = f"{self.metric} {self.old.value:.4f} -> {self.new.value:.4f}, difference {d.value:+.4f}"
        tally = f"better on {self.wins} of {self.scored} cases"
        if self.scored < MIN_CASES_FOR_VERDICT:
            return f"{change}; too few cases for an interval or a verdict, {tally}"
        verdict = "better" if self.improved else "worse" if self.worsened else "not clearly different"
        return f"{change} (95% CI {d.low:+.4f} to {d.high:+.4f}): the new version is {verdict}, {tally}"

    def to_dict(self) -> dict:
        return {
            "metric": self.metric,
            "higher_is_better": self.higher_is_better,
            "old": self.old.to_dict(),
            "new": self.new.to_dict(),
            "difference": self.difference.to_dict(),
            "wins": self.wins,
            "losses": self.losses,
            "ties": self.ties,
            "improved": self.improved,
            "worsened": self.worsened,
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
        return PairedComparison(metric, rows, missing, missing, missing, 0, 0, 0, higher_is_better)

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
    )
