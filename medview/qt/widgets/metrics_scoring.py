"""What the Metrics panel hands to a worker: functions of ``(progress, cancel)`` over copies of the
layers' data that score them with :mod:`medview.metrics.review`, and the error overlay of two label
maps. Nothing here draws; the panel shows what these return."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from napari.components import ViewerModel
from napari.layers import Labels, Layer, Shapes
from napari.utils.colormaps import DirectLabelColormap

from medview.core.progress import CancelToken, ProgressCallback
from medview.metrics.class_json import ClassCases, read_class_cases
from medview.metrics.classification import evaluate_classification
from medview.metrics.review import (
    DetectionReview,
    SegmentationReview,
    changed_labels,
    review_detection,
    review_segmentation,
)
from medview.metrics.slices import annotated_slices, error_map
from medview.qt.bridge import boxes_from_layer, geometry_kwargs, label_map_from_layer

ERROR_COLOURS = {
    0: (0.0, 0.0, 0.0, 0.0),
    1: (1.0, 0.25, 0.2, 1.0),
    2: (0.2, 0.55, 1.0, 1.0),
    None: (0, 0, 0, 0),
}
"""False positives red, false negatives blue."""
Work = Callable[[ProgressCallback, CancelToken], object]


@dataclass(frozen=True)
class Scored:
    """What the last scoring saw, so the next one after an edit recomputes only the changed labels."""

    key: tuple
    preds: list[np.ndarray]
    truth: np.ndarray
    reviews: list[SegmentationReview]


def label_scoring(
    pred: Labels, truth: Labels, compare: Labels | None, annotated_only: bool, last: Scored | None
) -> Work:
    """Score ``pred`` (and ``compare``) against ``truth``, on the truth's annotated slices only if
    ``annotated_only`` (volumes); labels the edits since ``last`` did not touch are reused from it."""
    truth_map = label_map_from_layer(truth)
    spacing = truth_map.geometry.spacing
    truth_array = np.array(truth_map.array)
    others = [np.array(layer.data) for layer in (pred, compare) if layer is not None]
    restrict = annotated_only and truth_array.ndim >= 3
    key = (pred.name, truth.name, None if compare is None else compare.name, spacing, restrict)
    last = last if last is not None and last.key == key and last.truth.shape == truth_array.shape else None

    def score(progress: ProgressCallback, cancel: CancelToken) -> Scored:
        slices = tuple(int(s) for s in annotated_slices(truth_array)) if restrict else None
        reviews = []
        for index, array in enumerate(others):
            previous, changed = None, set()
            if last is not None and last.reviews[index].slices == slices:
                previous = last.reviews[index]
                changed = changed_labels(last.truth, truth_array) | changed_labels(last.preds[index], array)
            reviews.append(
                review_segmentation(
                    array,
                    truth_array,
                    spacing,
                    progress=progress,
                    cancel=cancel,
                    previous=previous,
                    changed=changed,
                    slices=slices,
                )
            )
        return Scored(key, others, truth_array, reviews)

    return score


def box_scoring(
    pred: Shapes, truth: Shapes, compare: Shapes | None, iou_threshold: float, score_threshold: float
) -> Work:
    """Score the boxes of ``pred`` (and ``compare``) against those of ``truth``."""
    truth_boxes = boxes_from_layer(truth)
    box_sets = [boxes_from_layer(layer) for layer in (pred, compare) if layer is not None]

    def score(progress: ProgressCallback, cancel: CancelToken) -> list[DetectionReview]:
        return [
            review_detection(
                boxes, truth_boxes, iou_threshold, score_threshold, progress=progress, cancel=cancel
            )
            for boxes in box_sets
        ]

    return score


def class_scoring(truth_path: str | Path, pred_path: str | Path) -> Work:
    """Read class JSON files (see :mod:`medview.metrics.class_json`) and score them."""

    def score(progress: ProgressCallback, cancel: CancelToken) -> tuple[ClassCases, dict]:
        cases = read_class_cases(truth_path, pred_path)
        progress(0.1, "Bootstrapping confidence intervals")
        return cases, evaluate_classification(cases.truth, cases.probabilities)

    return score


def show_label_errors(viewer: ViewerModel, pred: Labels, truth: Labels, name: str) -> Layer:
    """The labels layer ``name`` (updated if open) with false positives red, false negatives blue."""
    errors = error_map(np.asarray(pred.data), np.asarray(truth.data))
    if name in viewer.layers:
        viewer.layers[name].data = errors
        return viewer.layers[name]
    geometry = label_map_from_layer(truth).geometry
    layer = viewer.add_labels(errors, name=name, opacity=0.7, **geometry_kwargs(geometry))
    layer.colormap = DirectLabelColormap(color_dict=ERROR_COLOURS)
    return layer
