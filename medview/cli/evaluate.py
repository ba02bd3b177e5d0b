"""``medview evaluate --truth T --pred P [--json]``: compare a prediction with its ground truth.

Inputs, told apart by content:

- label maps: NIfTI, NRRD or MHA (anything :func:`medview.annotations.nifti.load_nifti` reads), or
  DICOM SEG together with ``--scan``, the DICOM series it segments; the prediction must lie on the
  truth's voxel grid. Output per label (JSON object keyed by label value):
  ``dice, iou, sensitivity, specificity, precision, accuracy, f1, hd, hd95, assd, nsd,
  volume_ml_truth, volume_ml_pred, volume_ml_diff`` (distances in mm; ``null`` for an infinite
  distance, which means exactly one of the masks is empty).
- box JSON: what :func:`medview.io.write_boxes` writes for one image, ``{"boxes": [...]}``, or several
  images ``{"images": [{"id": "case-1", "boxes": [...]}, ...]}`` matched by ``id``. Output:
  ``ap`` (per label, IoU 0.5), ``map50``, ``map50_95``, ``precision``, ``recall``, ``froc``.
- class JSON (see :mod:`medview.metrics.class_json`): truth ``{"labels": ["normal", "abnormal"],
  "cases": [{"id": "c1", "truth": 1}, ...]}`` and prediction ``{"cases": [{"id": "c1",
  "probabilities": [0.2, 0.8]}, ...]}``, matched by ``id``.
  Output: ``confusion`` (rows true, columns predicted) and ``accuracy, sensitivity, specificity,
  precision, f1, auc``, each ``{"value", "low", "high"}`` with a bootstrap 95% interval.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from medview.core.errors import InputError
from medview.core.json_safe import finite
from medview.core.scan import LabelMap, Scan

NAME = "evaluate"
HELP = "compare a prediction with ground truth (label maps, boxes or classes) and print metrics"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--truth", required=True, type=Path, help="ground truth: label map, box or class JSON"
    )
    parser.add_argument("--pred", required=True, type=Path, help="prediction of the same kind as --truth")
    parser.add_argument("--scan", type=Path, help="the DICOM series a DICOM SEG input segments")
    parser.add_argument("--json", action="store_true", help="print one JSON document on stdout")
    parser.add_argument("--tolerance", type=float, default=2.0, help="surface Dice tolerance in mm (2)")
    parser.add_argument("--iou", type=float, default=0.5, help="IoU for a box to match (0.5)")
    parser.add_argument("--score", type=float, default=0.5, help="box score threshold for precision/recall")
    parser.add_argument("--threshold", type=float, default=0.5, help="probability threshold, two classes")


def run(args: argparse.Namespace) -> int:
    truth_doc, pred_doc = _json_or_none(args.truth), _json_or_none(args.pred)
    if (truth_doc is None) != (pred_doc is None):
        raise InputError("--truth and --pred must both be label maps or both be JSON", args.pred)
    if truth_doc is None:
        kind, result = "segmentation", _segmentation(args)
    elif "cases" in truth_doc:
        kind, result = "classification", _classification(truth_doc, pred_doc, args)
    else:
        kind, result = "detection", _detection(truth_doc, pred_doc, args)
    document = finite({"kind": kind, "truth": str(args.truth), "pred": str(args.pred), "metrics": result})
    print(json.dumps(document) if args.json else _text(document))
    return 0


def _segmentation(args: argparse.Namespace) -> dict[str, dict[str, float]]:
    from medview.metrics.segmentation import evaluate_segmentation

    scans: dict[Path, Scan] = {}
    truth = _label_map(args.truth, args.scan, scans)
    pred = _label_map(args.pred, args.scan, scans)
    if pred.array.shape != truth.array.shape or not pred.geometry.matches(truth.geometry):
        raise InputError(
            f"the prediction's voxel grid ({pred.array.shape}, {pred.geometry}) differs from the truth's "
            f"({truth.array.shape}, {truth.geometry}); resample it onto the truth first",
            args.pred,
        )
    per_label = evaluate_segmentation(
        pred.array, truth.array, truth.geometry.spacing, tolerance_mm=args.tolerance
    )
    return {str(label): values for label, values in per_label.items()}


def _label_map(path: Path, scan_path: Path | None, scans: dict[Path, Scan]) -> LabelMap:
    """A NIfTI/NRRD/MHA label map, or a DICOM SEG read onto the series ``--scan`` names."""
    from medview.annotations.nifti import load_nifti

    if not _is_dicom(path):
        return load_nifti(path)
    from medview.annotations.seg import read_dicom_seg
    from medview.io import open_scan

    if scan_path is None:
        raise InputError("a DICOM SEG needs --scan, the DICOM series it segments", path)
    if scan_path not in scans:
        scans[scan_path] = open_scan(scan_path)
    return read_dicom_seg(path, scans[scan_path])


def _is_dicom(path: Path) -> bool:
    try:
        with open(path, "rb") as file:
            return file.read(132)[128:] == b"DICM"
    except OSError:
        return False


def _detection(truth_doc: dict, pred_doc: dict, args: argparse.Namespace) -> dict[str, Any]:
    from medview.metrics.detection import evaluate_detection

    truth_images = _box_images(truth_doc, args.truth)
    pred_images = _box_images(pred_doc, args.pred)
    if (
        "images" not in truth_doc and "images" not in pred_doc
    ):  # one image each: pair them whatever their names
        pred_images = {name: pred_images.popitem()[1] for name in truth_images}
    missing = sorted(set(truth_images) - set(pred_images))
    if missing:
        raise InputError(f"no predicted boxes for image(s) {', '.join(missing)}", args.pred)
    ids = sorted(truth_images)
    result = evaluate_detection(
        [pred_images[i] for i in ids], [truth_images[i] for i in ids], args.iou, args.score
    )
    result["ap"] = {str(label): value for label, value in result["ap"].items()}
    result["images"] = len(ids)
    return result


def _classification(truth_doc: dict, pred_doc: dict, args: argparse.Namespace) -> dict[str, Any]:
    from medview.metrics.class_json import match_class_cases
    from medview.metrics.classification import evaluate_classification

    cases = match_class_cases(truth_doc, pred_doc, args.truth, args.pred)
    result = evaluate_classification(cases.truth, cases.probabilities, threshold=args.threshold)
    output: dict[str, Any] = {"labels": cases.labels, "cases": len(cases.ids)}
    for key, value in result.items():
        output[key] = value.to_dict() if hasattr(value, "to_dict") else value
    return output


def _text(document: dict) -> str:
    """A readable rendering: one line per label (segmentation) or per metric."""
    lines = [f"{document['kind']}: {document['pred']} against {document['truth']}"]
    for key, value in document["metrics"].items():
        if isinstance(value, dict) and "value" in value:
            value = f"{_number(value['value'])} (95% CI {_number(value['low'])} to {_number(value['high'])})"
        elif isinstance(value, dict):
            value = "  ".join(f"{k} {_number(v)}" for k, v in value.items())
        lines.append(f"  {'label ' + key if document['kind'] == 'segmentation' else key}: {value}")
    return "\n".join(lines)


def _number(value: Any) -> str:
    if value is None:
        return "inf/nan"
    return f"{value:.4g}" if isinstance(value, float) else str(value)


def _json_or_none(path: Path) -> dict | None:
    if not path.exists():
        raise InputError("no such file", path)
    if path.suffix.lower() != ".json":
        return None
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as error:
        raise InputError(f"not a readable JSON file ({error})", path) from error
    if not isinstance(document, dict) or not ({"boxes", "images", "cases"} & set(document)):
        raise InputError('expected box JSON ("boxes" or "images") or class JSON ("cases")', path)
    return document


def _box_images(document: dict, path: Path) -> dict[str, list]:
    from medview.core.boxes import Box

    images = document.get("images", [{"id": document.get("scan", ""), "boxes": document.get("boxes", [])}])
    try:
        return {str(image.get("id", "")): [Box.from_dict(box) for box in image["boxes"]] for image in images}
    except (ValueError, KeyError, TypeError, AttributeError) as error:
        raise InputError(f"not medview box JSON ({error})", path) from error
