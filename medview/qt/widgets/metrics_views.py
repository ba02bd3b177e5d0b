"""How the Metrics panel's tables show numbers: cells, rows under readable headings, and the rows the
CSV export writes under the metrics' own keys (the plots are in :mod:`.metric_plots`)."""

from __future__ import annotations

import numpy as np
from qtpy.QtWidgets import QTableWidget, QTableWidgetItem

from medview.metrics.classification import SCORE_KEYS
from medview.metrics.cumulative import CaseRow
from medview.metrics.review import DetectionReview, MetricColumn, SegmentationReview

_GROUPED_FROM = 1e4  # from here on a number is shown whole with thousands separators, not as 1.2e+04


def cell(value: float) -> str:
    """A metric as a table shows it: four significant digits (whole numbers with separators from
    10,000 on), a dash for NaN, ∞ for infinity."""
    if np.isnan(value):
        return "–"
    if np.isinf(value):
        return "∞" if value > 0 else "-∞"
    if abs(value) >= _GROUPED_FROM:
        return f"{value:,.0f}"
    return f"{value:.4g}"


def flat_metrics(metrics: dict) -> dict[str, float]:
    """Nested detection metrics as ``{"ap 1": ..., "froc 1/8": ...}``: the CSV export's keys."""
    flat: dict[str, float] = {}
    for key, value in metrics.items():
        if isinstance(value, dict):
            flat |= {f"{key} {inner}": float(v) for inner, v in value.items()}
        else:
            flat[key] = float(value)
    return flat


def fill_table(table: QTableWidget, header: list[str], rows: list[list[str]]) -> None:
    """Show ``rows`` of cell texts under ``header`` in ``table``, columns fitted to their contents."""
    table.clear()
    table.setColumnCount(len(header))
    table.setRowCount(len(rows))
    table.setHorizontalHeaderLabels(header)
    for r, row in enumerate(rows):
        for c, text in enumerate(row):
            table.setItem(r, c, QTableWidgetItem(text))
    table.resizeColumnsToContents()


def segmentation_rows(
    review: SegmentationReview, columns: tuple[MetricColumn, ...], names: dict[int, str]
) -> tuple[list[str], list[list[str]], list[int]]:
    """The per-label table: its header, one row of cells per label, and the label of each row."""
    labels = list(review.metrics)
    rows = [
        [
            names.get(label, f"label {label}"),
            *(cell(column.value(review.metrics[label])) for column in columns),
        ]
        for label in labels
    ]
    return ["label", *(column.heading for column in columns)], rows, labels


def csv_rows(
    review: SegmentationReview | DetectionReview | None,
    classification: dict | None,
    name: str,
    label_names: dict[int, str],
) -> list[CaseRow]:
    """What "Export CSV…" writes, under the metrics' own keys (volumes in mL, distances in the scan's
    spacing unit): a row per label of a segmentation, one row of box or class metrics."""
    if review is None and classification is not None:
        values = {f"{k} {part}": v for k in SCORE_KEYS for part, v in classification[k].to_dict().items()}
        return [CaseRow("classes", 0, "all", values)]
    if not isinstance(review, SegmentationReview):
        return [CaseRow(name, 0, "all", flat_metrics(review.metrics if review is not None else {}))]
    return [
        CaseRow(name, label, label_names.get(label, f"label {label}"), values)
        for label, values in review.metrics.items()
    ]
