"""Detection: box annotations -> dense target maps of the plugin's own making, its own loss, validation F1.

The image is resampled to the model's spacing exactly as the inference engine does it, and the boxes
are scaled onto that grid. The plugin turns boxes into dense target maps (``targets``) and scores a
network output against them (``loss``); validation runs the plugin's own prediction (and so its own
decoding into boxes), so any dense detector (CenterNet-style heatmaps, FCOS-style maps...) trains
here. Training patches are drawn around boxes with ``positive_fraction`` of them holding a box centre;
augmentation is flips only, which move the image and every target map alike.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np
import torch
from monai.data import Dataset
from monai.transforms import Compose, DeleteItemsd, EnsureTyped, RandFlipd, RandWeightedCropd, SpatialPad
from monai.utils import convert_to_tensor

from medview.core.boxes import Box
from medview.core.errors import InputError
from medview.io import read_boxes
from medview.metrics.case_scores import DETECTION_IOU, DETECTION_SCORE, box_scores
from medview.models.api import Prediction, check_fits
from medview.models.network_plugin import NetworkPlugin
from medview.training.config import TrainingConfig
from medview.training.dataset import TrainingCase
from medview.training.objectives.base import (
    Objective,
    ScoreRow,
    case_scan,
    case_spacing,
    done_cases,
    grid_factors,
    model_input,
    patch_size,
)
from medview.training.trainable import TrainableModel

Targets = Callable[[list[Box], tuple[int, ...]], np.ndarray]
"""Boxes on the model grid and that grid's shape -> ``(channels, *shape)`` float32 target maps."""
Loss = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]
"""Network output ``(N, C, *patch)`` and targets ``(N, channels, *patch)`` -> a scalar loss."""


class DetectionObjective(Objective):
    """A dense detector's own targets and loss; validation F1 (``f1``, ``precision``, ``recall``).

    A predicted box scoring at least ``score_threshold`` is a hit when it overlaps an unmatched true box
    with IoU at least ``iou_threshold`` (:func:`medview.metrics.case_scores.box_scores`). Decoded boxes
    are taken to be of the model's first class: the objective is for single-class detectors.
    """

    metric = "f1"
    annotation_kind = "boxes"

    def __init__(
        self,
        targets: Targets,
        loss: Loss,
        score_threshold: float = DETECTION_SCORE,
        iou_threshold: float = DETECTION_IOU,
    ) -> None:
        self.targets, self._loss = targets, loss
        self.score_threshold, self.iou_threshold = score_threshold, iou_threshold

    def cases(
        self, workspace_dir: str | Path, plugin: NetworkPlugin, case_ids: Sequence[str] | None = None
    ) -> list[TrainingCase]:
        """Cases with a ``boxes`` annotation; boxes of classes the model does not know are left out,
        and a case with no box at all is a negative example."""
        by_name = {label.name: label.value for label in plugin.info.labels}
        cases = []
        for case, annotation in done_cases(workspace_dir, self.annotation_kind, case_ids):
            scan = case_scan(case)
            check_fits(plugin.info, scan)
            box_set = read_boxes(annotation.path)
            rows = []
            for box in box_set.boxes:
                value = by_name.get(box_set.labels.name_of(box.label), box.label)
                if box.ndim != scan.geometry.ndim:
                    message = f"a {box.ndim}-D box on the {scan.geometry.ndim}-D scan of {case.id!r}"
                    raise InputError(message, annotation.path)
                if value in plugin.info.labels:
                    rows.append([value, *box.start, *box.stop])
            spacing, units = case_spacing(scan, plugin.info.input)
            boxes = np.asarray(rows, np.float64).reshape(len(rows), 1 + 2 * scan.geometry.ndim)
            cases.append(
                TrainingCase(
                    scan.name,
                    np.asarray(scan.array),
                    boxes,
                    scan.modality,
                    spacing,
                    units=units,
                )
            )
        return cases

    def training_dataset(
        self, cases: Sequence[TrainingCase], model: TrainableModel, config: TrainingConfig
    ) -> Dataset:
        """``samples_per_case`` patches per case and epoch, each a dict of ``image`` and ``target``."""
        patch = patch_size(model, config)
        pad = SpatialPad(patch, method="end")  # padding after the image keeps box coordinates
        items = []
        for case in cases:
            image, boxes = self._model_grid(case, model)
            target = torch.from_numpy(self.targets(boxes, tuple(image.shape[1:])))
            image, target = convert_to_tensor(pad(image)), convert_to_tensor(pad(target))
            weight = crop_weights(boxes, tuple(image.shape[1:]), patch, config.positive_fraction)
            items.append({"image": image, "target": target, "weight": torch.from_numpy(weight)})
        keys = ("image", "target")
        random = [RandWeightedCropd(keys, "weight", patch, config.samples_per_case), DeleteItemsd("weight")]
        if config.augment:
            random += [RandFlipd(keys, prob=0.5, spatial_axis=axis) for axis in range(len(patch))]
        return Dataset(items, Compose([*random, EnsureTyped(keys, track_meta=False)]))

    def loss(self, output: torch.Tensor, batch: dict) -> torch.Tensor:
        return self._loss(output, batch["target"])

    def score(self, prediction: Prediction, case: TrainingCase) -> ScoreRow:
        """F1, precision and recall of the plugin's boxes against the case's, on the scan's grid."""
        ndim = (case.label.shape[1] - 1) // 2
        truth = [
            Box(int(row[0]), 1.0, tuple(map(float, row[1 : 1 + ndim])), tuple(map(float, row[1 + ndim :])))
            for row in case.label
        ]
        return box_scores(prediction.boxes or [], truth, self.iou_threshold, self.score_threshold)

    def _model_grid(self, case: TrainingCase, model: TrainableModel) -> tuple[torch.Tensor, list[Box]]:
        """The image as the model sees it and the case's boxes scaled onto that grid."""
        image = model_input(case, model.input)
        factors = grid_factors(case, image)
        ndim = len(factors)
        boxes = [
            Box(
                int(row[0]),
                1.0,
                tuple(map(float, row[1 : 1 + ndim] * factors)),
                tuple(map(float, row[1 + ndim :] * factors)),
            )
            for row in case.label
        ]
        return image, boxes


def crop_weights(
    boxes: Sequence[Box], shape: tuple[int, ...], patch: tuple[int, ...], positive_fraction: float
) -> np.ndarray:
    """``(1, *shape)`` weights of each voxel as a crop centre, for MONAI's ``RandWeightedCropd``.

    ``positive_fraction`` of the weight lies on the centres of crops holding a box centre at least
    1/8 of the patch inside them, the rest on the other centres (uniform when either set is empty).
    ``shape`` is at least ``patch`` on every axis.
    """
    valid = np.zeros(shape, bool)  # the centres RandWeightedCropd can use: crops inside the image
    valid[tuple(slice(p // 2, m - p + p // 2 + 1) for m, p in zip(shape, patch, strict=True))] = True
    near = np.zeros(shape, bool)
    for box in boxes:
        window = []
        for centre, m, p in zip(np.asarray(box.start) + box.size / 2, shape, patch, strict=True):
            first, last = max(0, math.ceil(centre - p + p // 8)), min(m - p, math.floor(centre - p // 8))
            if first > last:  # a box centre too near the edge: the one crop around it
                first = last = int(np.clip(round(centre - p / 2), 0, m - p))
            window.append(slice(first + p // 2, last + p // 2 + 1))  # crop starts -> crop centres
        near[tuple(window)] = True
    far = valid & ~near
    if not near.any() or not far.any():
        return np.ones((1, *shape), np.float32)
    weight = np.where(far, (1 - positive_fraction) / far.sum(), 0.0)
    weight[near] = positive_fraction / near.sum()
    return weight[np.newaxis].astype(np.float32)
