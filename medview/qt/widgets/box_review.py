"""Boxes under review: true boxes with solid green edges, predictions in orange with their score, a
score threshold that hides the predictions below it (and re-scores the rest through
:func:`medview.metrics.review.at_score_threshold`), and the errors at that threshold (false positives
red, missed true boxes blue) in a layer of their own.

napari draws every edge solid, so predictions differ from truths by colour, width and their score
text rather than by a dashed line. The layers' own look is kept and put back by
:meth:`BoxStyle.restore` when the panel stops reviewing them.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from napari.components import ViewerModel
from napari.layers import Shapes
from qtpy.QtCore import Qt, Signal
from qtpy.QtWidgets import QDoubleSpinBox, QFormLayout, QHBoxLayout, QLabel, QSlider, QWidget

from medview.core.labels import LabelTable
from medview.metrics.case_scores import DETECTION_IOU, DETECTION_SCORE
from medview.metrics.review import DetectionReview
from medview.qt.bridge import boxes_from_layer, boxes_layer_data, layer_geometry

TRUTH_COLOUR = (0.2, 0.85, 0.3, 1.0)
PREDICTION_COLOUR = (1.0, 0.6, 0.1, 1.0)
HIDDEN = (0.0, 0.0, 0.0, 0.0)
FALSE_POSITIVE_COLOUR = (1.0, 0.25, 0.2, 1.0)
MISSED_COLOUR = (0.2, 0.55, 1.0, 1.0)
"""The same red and blue as the label maps' error overlay: false positives red, misses blue."""
_STEPS = 100  # the slider's resolution: scores 0.00 to 1.00


class ScoreThreshold(QWidget):
    """A slider for the lowest score a predicted box needs to be shown and counted, and the IoU a
    prediction needs with a true box to match it; by default those of every model score
    (:mod:`medview.metrics.case_scores`), so the panel's F1 is the one training and the model cards
    report."""

    threshold_changed = Signal(float)
    iou_changed = Signal(float)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.slider = QSlider(Qt.Orientation.Horizontal)
        self.slider.setRange(0, _STEPS)
        self.slider.setValue(round(DETECTION_SCORE * _STEPS))
        self.slider.setToolTip("Predicted boxes scoring below this are hidden and not counted")
        self._value = QLabel()
        self.iou = QDoubleSpinBox()
        self.iou.setRange(0.1, 0.9)
        self.iou.setSingleStep(0.05)
        self.iou.setDecimals(2)
        self.iou.setValue(DETECTION_IOU)
        self.iou.setToolTip("A prediction matches a true box of its class when they overlap this much")
        row = QHBoxLayout()
        row.setContentsMargins(0, 0, 0, 0)
        row.addWidget(self.slider)
        row.addWidget(self._value)
        form = QFormLayout(self)
        form.setContentsMargins(0, 0, 0, 0)
        form.addRow("Score threshold", row)
        form.addRow("Match at IoU", self.iou)
        self.slider.valueChanged.connect(self._slid)
        self.iou.valueChanged.connect(self.iou_changed)
        self._slid(self.slider.value())

    @property
    def threshold(self) -> float:
        return self.slider.value() / _STEPS

    def set_threshold(self, value: float) -> None:
        """Move the slider to ``value`` (0 to 1), as the user does by dragging it."""
        self.slider.setValue(int(round(value * _STEPS)))

    def _slid(self, value: int) -> None:
        self._value.setText(f"≥ {value / _STEPS:.2f}")
        self.threshold_changed.emit(value / _STEPS)


class BoxStyle:
    """Draws a truth and a prediction layer for review, remembering how they looked before."""

    def __init__(self) -> None:
        self._saved: dict[int, tuple[Shapes, dict[str, Any]]] = {}

    def show(
        self,
        truth: Shapes,
        pred: Shapes,
        review: DetectionReview,
        names: dict[int, str],
        errors: bool = False,
    ) -> None:
        """Truth green, its class names below the boxes when there is more than one class; predictions
        orange with class and score above them where they reach the threshold, hidden where they do not.
        With ``errors``, the texts also say "false positive" and "missed"."""
        for layer in (truth, pred):
            self._saved.setdefault(id(layer), (layer, _look(layer)))
        truth_boxes, pred_boxes = shape_boxes(truth), shape_boxes(pred)
        if review.point is None or not _fits(truth_boxes, review.truth) or not _fits(pred_boxes, review.pred):
            return  # the layers were edited since they were scored: the next scoring draws them
        point = review.point
        several = len({box.label for box in (*review.truth, *review.pred)}) > 1
        truth_texts = []
        for i in truth_boxes:
            words = [_name(names, review.truth[i].label)] if several else []
            truth_texts.append(" ".join(words + (["missed"] if errors and point.missed[i] else [])))
        truth.edge_color = np.array([TRUTH_COLOUR] * len(truth_boxes)).reshape(-1, 4)
        truth.edge_width = [3] * len(truth_boxes)
        truth.text = _text(truth_texts, TRUTH_COLOUR, "lower_left")
        pred_texts = []
        for i in pred_boxes:
            text = (
                f"{_name(names, review.pred[i].label)} {review.pred[i].score:.2f}" if point.shown[i] else ""
            )
            pred_texts.append(text + (", false positive" if errors and point.false_positive[i] else ""))
        colours = [PREDICTION_COLOUR if point.shown[i] else HIDDEN for i in pred_boxes]
        pred.edge_color = np.array(colours).reshape(-1, 4)
        pred.edge_width = [2] * len(pred_boxes)
        pred.text = _text(pred_texts, PREDICTION_COLOUR, "upper_left")

    def restore(self) -> None:
        """Put every layer this drew back as it was (those still open)."""
        for layer, look in self._saved.values():
            if len(layer.data) == len(look["edge_width"]):
                layer.edge_color = look["edge_color"]
                layer.edge_width = look["edge_width"]
            layer.text = look["text"]
        self._saved.clear()


def show_box_errors(viewer: ViewerModel, truth: Shapes, review: DetectionReview, name: str) -> Shapes:
    """A shapes layer ``name`` (replaced if open) with thick red edges on the false positives at the
    review's threshold and thick blue ones on the true boxes no shown prediction matched (the
    reviewed layers' texts say which, see :meth:`BoxStyle.show`)."""
    point = review.point
    wrong = [box for box, bad in zip(review.pred, point.false_positive, strict=True) if bad]
    missed = [box for box, gone in zip(review.truth, point.missed, strict=True) if gone]
    data, kwargs, _ = boxes_layer_data([*wrong, *missed], LabelTable(), layer_geometry(truth), name)
    box_ids = kwargs.pop("features")["box_id"]
    kwargs["edge_color"] = [
        FALSE_POSITIVE_COLOUR if i < len(wrong) else MISSED_COLOUR for i in box_ids
    ] or "red"
    kwargs["edge_width"] = 5
    for key in ("text", "feature_defaults"):
        kwargs.pop(key)
    if name in viewer.layers:
        viewer.layers.remove(name)
    layer = viewer.add_shapes(data, **kwargs)
    layer.editable = False
    return layer


def box_class_names(layer: Shapes) -> dict[int, str]:
    """``{class value: name}`` of the boxes of ``layer``, from the class names its shapes show."""
    boxes, features = boxes_from_layer(layer), layer.features
    if "label" not in features:
        return {}
    return {
        boxes[index].label: str(features["label"][shape])
        for shape, index in enumerate(shape_boxes(layer))
        if index < len(boxes)
    }


def shape_boxes(layer: Shapes) -> list[int]:
    """For each shape of ``layer``, the index of its box in ``boxes_from_layer(layer)``: shapes sharing
    a ``box_id`` (the slices of one 3D box) are one box, numbered in order of first appearance."""
    features = layer.features
    ids = [
        int(features["box_id"][i]) if "box_id" in features and int(features["box_id"][i]) >= 0 else i
        for i in range(len(layer.data))
    ]
    order: dict[int, int] = {}
    return [order.setdefault(box_id, len(order)) for box_id in ids]


def _look(layer: Shapes) -> dict[str, Any]:
    """What :meth:`BoxStyle.show` changes of a layer, to put it back."""
    return {
        "edge_color": layer.edge_color.copy(),
        "edge_width": list(layer.edge_width),
        "text": layer.text.model_dump(),
    }


def _fits(shape_indices: list[int], boxes: tuple) -> bool:
    """Whether every shape's box index is one of ``boxes`` (no box was drawn since scoring)."""
    return max(shape_indices, default=-1) < len(boxes)


def _name(names: dict[int, str], label: int) -> str:
    return names.get(label, f"class {label}")


def _text(strings: list[str], colour: tuple[float, ...], anchor: str) -> dict[str, Any]:
    return {
        "string": {"array": np.asarray(strings, dtype=object), "default": ""},
        "color": colour,
        "size": 10,
        "anchor": anchor,
    }
