"""Metrics that compare predictions with ground truth: segmentation, detection, classification.

Functional ``compute_*`` and ``evaluate_*`` functions take arrays (array order) and spacing in mm;
:mod:`medview.metrics.cumulative` scores many cases and summarises them with confidence intervals.
numpy and scipy only: no Qt, no torch.
"""

from medview.metrics.bootstrap import Estimate, bootstrap
from medview.metrics.classification import evaluate_classification, roc_auc, roc_curve
from medview.metrics.cumulative import CaseRow, SegmentationEvaluator, Summary, evaluate_cases, worst_first
from medview.metrics.detection import box_iou, evaluate_detection
from medview.metrics.segmentation import (
    METRIC_KEYS,
    compute_assd,
    compute_dice,
    compute_hausdorff,
    compute_hd95,
    compute_iou,
    compute_surface_dice,
    compute_volume_ml,
    evaluate_segmentation,
)
from medview.metrics.slices import error_map, slice_dice

__all__ = [
    "METRIC_KEYS",
    "CaseRow",
    "Estimate",
    "SegmentationEvaluator",
    "Summary",
    "bootstrap",
    "box_iou",
    "compute_assd",
    "compute_dice",
    "compute_hausdorff",
    "compute_hd95",
    "compute_iou",
    "compute_surface_dice",
    "compute_volume_ml",
    "error_map",
    "evaluate_cases",
    "evaluate_classification",
    "evaluate_detection",
    "evaluate_segmentation",
    "roc_auc",
    "roc_curve",
    "slice_dice",
    "worst_first",
]
