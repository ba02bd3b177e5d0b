"""CSV export of metric tables, written atomically (a crash never leaves half a file)."""

from __future__ import annotations

import csv
import io
from collections.abc import Sequence
from pathlib import Path

from medview.io.atomic import write_text_atomic
from medview.metrics.cumulative import CaseRow, Summary


def rows_to_csv(rows: Sequence[CaseRow], path: str | Path) -> Path:
    """One line per case and label: ``case, label, name`` then every metric (``inf`` written as such)."""
    metrics = list(dict.fromkeys(key for row in rows for key in row.values))
    lines = [["case", "label", "name", *metrics]]
    for row in rows:
        lines.append([row.case, row.label, row.label_name, *(_cell(row.values.get(m)) for m in metrics)])
    return _write(lines, path)


def summary_to_csv(summaries: Sequence[Summary], path: str | Path) -> Path:
    """One line per label and metric: mean, its 95% interval, median and the number of cases."""
    lines = [["label", "metric", "mean", "ci_low", "ci_high", "median", "cases"]]
    for s in summaries:
        mean = s.mean
        lines.append([s.label, s.metric, *map(_cell, (mean.value, mean.low, mean.high, s.median)), s.cases])
    return _write(lines, path)


def _cell(value: float | None) -> str:
    return "" if value is None else repr(float(value))


def _write(lines: list[list], path: str | Path) -> Path:
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator="\n").writerows(lines)
    write_text_atomic(path, buffer.getvalue())
    return Path(path)
