"""Class JSON: true classes and predicted probabilities of a set of cases, matched by case id.

Truth: ``{"labels": ["normal", "abnormal"], "cases": [{"id": "c1", "truth": 1}, ...]}`` (``truth`` is
the index into ``labels``). Prediction: ``{"cases": [{"id": "c1", "probabilities": [0.2, 0.8]}, ...]}``
with one probability per label (or a single number, the probability of class 1).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from medview.core.errors import InputError


@dataclass(frozen=True)
class ClassCases:
    """Cases in id order with their true class and predicted probabilities ``(cases, classes)``."""

    ids: list[str]
    labels: list[str]
    truth: np.ndarray
    probabilities: np.ndarray


def read_class_cases(truth_path: str | Path, pred_path: str | Path) -> ClassCases:
    """Read and match a truth and a prediction class JSON file; every true case needs a prediction."""
    truth_doc, pred_doc = _read(Path(truth_path)), _read(Path(pred_path))
    return match_class_cases(truth_doc, pred_doc, Path(truth_path), Path(pred_path))


def match_class_cases(truth_doc: dict, pred_doc: dict, truth_path: Path, pred_path: Path) -> ClassCases:
    """Match two parsed class JSON documents by case id (paths only name them in errors)."""
    try:
        truth = {str(case["id"]): int(case["truth"]) for case in _cases(truth_doc, "truth", truth_path)}
    except (TypeError, ValueError) as error:
        raise InputError(f'"truth" must be a class index ({error})', truth_path) from error
    pred = {str(case["id"]): case["probabilities"] for case in _cases(pred_doc, "probabilities", pred_path)}
    missing = sorted(set(truth) - set(pred))
    if missing:
        raise InputError(f"no prediction for case(s) {', '.join(missing[:5])}", pred_path)
    ids = sorted(truth)
    try:
        probabilities = np.array([pred[i] for i in ids], dtype=np.float64)
    except (TypeError, ValueError) as error:
        message = f"probabilities must be numbers, one list per case of equal length ({error})"
        raise InputError(message, pred_path) from error
    if probabilities.ndim == 1:  # one number per case: the probability of class 1
        probabilities = np.stack([1.0 - probabilities, probabilities], axis=1)
    labels = [str(label) for label in truth_doc.get("labels", [])]
    return ClassCases(ids, labels, np.array([truth[i] for i in ids], dtype=np.int64), probabilities)


def _read(path: Path) -> dict:
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as error:
        raise InputError(f"not a readable JSON file ({error})", path) from error
    if not isinstance(document, dict):
        raise InputError('expected a JSON object with a list of "cases"', path)
    return document


def _cases(document: dict, key: str, path: Path) -> list[dict]:
    cases = document.get("cases")
    if not isinstance(cases, list) or not all(isinstance(c, dict) and "id" in c and key in c for c in cases):
        raise InputError(f'every entry of "cases" needs "id" and "{key}"', path)
    return cases
