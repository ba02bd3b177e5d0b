"""Metrics over many cases: a MONAI-style cumulative evaluator and a worst-first case table.

Call a :class:`SegmentationEvaluator` once per case, then ``aggregate()`` for the per-case rows and
``summary()`` for mean, median and bootstrap 95% interval per label and metric; ``reset()`` starts over.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

import numpy as np

from medview.core.errors import InputError
from medview.core.progress import CancelToken, ProgressCallback, no_progress
from medview.core.scan import LabelMap
from medview.metrics.bootstrap import Estimate, mean_interval
from medview.metrics.segmentation import DEFAULT_TOLERANCE_MM, LOWER_IS_BETTER, evaluate_segmentation


@dataclass(frozen=True)
class CaseRow:
    """The metrics of one label of one case."""

    case: str
    label: int
    label_name: str
    values: dict[str, float]


@dataclass(frozen=True)
class Summary:
    """Mean (with bootstrap 95% interval) and median of one metric of one label over the cases."""

    label: int
    metric: str
    mean: Estimate
    median: float
    cases: int


@dataclass
class SegmentationEvaluator:
    """Accumulates per-label segmentation metrics case by case (MONAI's cumulative pattern)."""

    tolerance_mm: float = DEFAULT_TOLERANCE_MM
    distances: bool = True
    rows: list[CaseRow] = field(default_factory=list)

    def __call__(
        self,
        case: str,
        pred: np.ndarray,
        truth: np.ndarray,
        spacing: Sequence[float],
        labels: Iterable[int] | None = None,
        names: dict[int, str] | None = None,
    ) -> list[CaseRow]:
        """Score one case and keep its rows; returns them."""
        per_label = evaluate_segmentation(pred, truth, spacing, labels, self.tolerance_mm, self.distances)
        names = names or {}
        added = [
            CaseRow(case, label, names.get(label, f"label {label}"), values)
            for label, values in per_label.items()
        ]
        self.rows.extend(added)
        return added

    def aggregate(self) -> list[CaseRow]:
        """Every row so far, in the order the cases came."""
        return list(self.rows)

    def summary(self, resamples: int = 1000, seed: int = 0) -> list[Summary]:
        """Per label and metric: mean with bootstrap 95% CI and median, over finite values."""
        summaries = []
        for label in sorted({row.label for row in self.rows}):
            rows = [row for row in self.rows if row.label == label]
            for metric in rows[0].values:
                values = np.array([row.values[metric] for row in rows], dtype=np.float64)
                finite = values[np.isfinite(values)]
                mean = mean_interval(finite, resamples=resamples, seed=seed)
                median = float(np.median(finite)) if finite.size else float("nan")
                summaries.append(Summary(label, metric, mean, median, int(finite.size)))
        return summaries

    def reset(self) -> None:
        """Forget every case."""
        self.rows.clear()


def worst_first(rows: Sequence[CaseRow], metric: str = "dice") -> list[CaseRow]:
    """Rows sorted so the worst value of ``metric`` comes first (the highest for distances, where an
    infinite distance, one mask empty, is the worst); rows without a value come last."""

    def badness(row: CaseRow) -> tuple[int, float]:
        value = row.values.get(metric, float("nan"))
        if np.isnan(value):
            return (1, 0.0)
        return (0, -value if metric in LOWER_IS_BETTER else value)

    return sorted(rows, key=badness)


def evaluate_cases(
    pairs: Iterable[tuple[str, LabelMap, LabelMap]],
    tolerance_mm: float = DEFAULT_TOLERANCE_MM,
    progress: ProgressCallback = no_progress,
    cancel: CancelToken | None = None,
) -> SegmentationEvaluator:
    """Score every ``(case id, prediction, truth)`` and return the filled evaluator.

    Spacing comes from the truth's geometry; a prediction on another voxel grid is refused. Label names
    come from the truth's label table, else the prediction's.
    """
    pairs = list(pairs)
    total = len(pairs)
    evaluator = SegmentationEvaluator(tolerance_mm)
    for index, (case, pred, truth) in enumerate(pairs):
        if cancel is not None:
            cancel.raise_if_cancelled()
        progress(index / max(total, 1), f"Scoring {case}")
        if pred.array.shape != truth.array.shape or not pred.geometry.matches(truth.geometry):
            raise InputError(f"case {case}: the prediction does not lie on the truth's voxel grid")
        names = {c.value: c.name for c in pred.labels} | {c.value: c.name for c in truth.labels}
        evaluator(case, pred.array, truth.array, truth.geometry.spacing, names=names)
    progress(1.0, f"Scored {total} cases")
    return evaluator
