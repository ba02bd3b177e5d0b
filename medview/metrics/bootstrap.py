"""Percentile bootstrap confidence intervals: resample cases with replacement, recompute, take quantiles."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

DEFAULT_RESAMPLES = 1000


@dataclass(frozen=True)
class Estimate:
    """A value with its confidence interval (``low``, ``high``) at ``level`` (0.95 = 95%)."""

    value: float
    low: float
    high: float
    level: float = 0.95

    def to_dict(self) -> dict[str, float]:
        return {"value": self.value, "low": self.low, "high": self.high}


def bootstrap(
    statistic: Callable[..., float],
    *arrays: Sequence | np.ndarray,
    resamples: int = DEFAULT_RESAMPLES,
    level: float = 0.95,
    seed: int = 0,
) -> Estimate:
    """``statistic(*arrays)`` with a percentile bootstrap interval over the first axis of the arrays.

    The arrays are resampled together (paired), ``resamples`` times with a seeded generator so the
    interval is reproducible. Resamples on which the statistic is undefined (``nan``) are dropped.
    """
    estimates = bootstrap_many(
        lambda *data: {"value": statistic(*data)}, *arrays, resamples=resamples, level=level, seed=seed
    )
    return estimates["value"]


def bootstrap_many(
    statistics: Callable[..., dict[str, float]],
    *arrays: Sequence | np.ndarray,
    resamples: int = DEFAULT_RESAMPLES,
    level: float = 0.95,
    seed: int = 0,
) -> dict[str, Estimate]:
    """Like :func:`bootstrap` for a function returning several named statistics from one resample."""
    data = [np.asarray(a) for a in arrays]
    count = len(data[0])
    if any(len(a) != count for a in data):
        raise ValueError("bootstrap arrays must have the same length")
    values = {key: float(v) for key, v in statistics(*data).items()}
    if count < 2:
        return {key: Estimate(v, v, v, level) for key, v in values.items()}
    rng = np.random.default_rng(seed)
    samples = {key: np.empty(resamples) for key in values}
    for i in range(resamples):
        index = rng.integers(0, count, count)
        for key, v in statistics(*(a[index] for a in data)).items():
            samples[key][i] = v
    tail = (1.0 - level) / 2.0 * 100.0
    estimates = {}
    for key, value in values.items():
        finite = samples[key][np.isfinite(samples[key])]
        low, high = np.percentile(finite, [tail, 100.0 - tail]) if finite.size else (np.nan, np.nan)
        estimates[key] = Estimate(value, float(low), float(high), level)
    return estimates


def mean_interval(values: Sequence[float] | np.ndarray, **options) -> Estimate:
    """The mean of the finite values with its bootstrap interval."""
    finite = np.asarray(values, dtype=np.float64)
    finite = finite[np.isfinite(finite)]
    if finite.size == 0:
        return Estimate(float("nan"), float("nan"), float("nan"))
    return bootstrap(np.mean, finite, **options)
