"""Classification: one class per case -> whole images of a fixed size, the classifier's loss, accuracy.

The image is resampled to the model's spacing exactly as the inference engine does it, then padded
or cropped about its centre to a fixed size, so cases of different sizes batch together. Augmentation
is flips only: they keep the class of the image.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np
import torch
from monai.data import Dataset
from monai.transforms import Compose, EnsureTyped, RandFlipd, ResizeWithPadOrCrop
from monai.utils import convert_to_tensor

from medview.core.errors import InputError
from medview.metrics.classification import roc_auc
from medview.models.api import check_fits
from medview.models.network_plugin import NetworkPlugin
from medview.training.config import TrainingConfig
from medview.training.dataset import TrainingCase
from medview.training.objectives.base import (
    Objective,
    ScoreRow,
    case_scan,
    case_spacing,
    done_cases,
    model_input,
)
from medview.training.trainable import TrainableModel
from medview.workspace import read_class

DEFAULT_SIZE = (64, 64)

Loss = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]
"""Logits ``(N, classes)`` and class indices ``(N,)`` -> a scalar loss."""


class ClassificationObjective(Objective):
    """The classifier's own loss on whole images; validation ``accuracy``, and ``roc_auc`` for two classes.

    The network takes ``(N, C, *size)`` and returns one logit per class of the model's label table, in
    its order. ``size`` (array order) is used when the run's configuration names no patch size.
    """

    metric = "accuracy"
    annotation_kind = "class"
    learning_rate = 1e-4  # a few whole images per step: 1e-3 unlearns the bundled classifier in an epoch

    def __init__(
        self, loss: Loss = torch.nn.functional.cross_entropy, size: tuple[int, ...] = DEFAULT_SIZE
    ) -> None:
        self._loss, self.size = loss, tuple(size)

    def cases(
        self, workspace_dir: str | Path, plugin: NetworkPlugin, case_ids: Sequence[str] | None = None
    ) -> list[TrainingCase]:
        """Cases with a ``class`` annotation naming one of the model's classes."""
        names = [label.name for label in plugin.info.labels]
        cases = []
        for case, annotation in done_cases(workspace_dir, self.annotation_kind, case_ids):
            name = read_class(annotation.path)
            if name not in names:
                raise InputError(
                    f"case {case.id!r} is annotated {name!r}, not a class of {plugin.info.name!r} "
                    f"({', '.join(names)})"
                )
            scan = case_scan(case)
            check_fits(plugin.info, scan)
            spacing, units = case_spacing(scan, plugin.info.input)
            index = np.asarray(names.index(name), np.int64)
            cases.append(
                TrainingCase(
                    scan.name,
                    np.asarray(scan.array),
                    index,
                    scan.modality,
                    spacing,
                    units=units,
                )
            )
        return cases

    def training_dataset(
        self, cases: Sequence[TrainingCase], model: TrainableModel, config: TrainingConfig
    ) -> Dataset:
        """One image (``image`` ``(C, *size)``, ``label`` its class index) per case and epoch."""
        random = []
        if config.augment:
            random = [RandFlipd("image", prob=0.5, spatial_axis=axis) for axis in range(model.input.ndim)]
        transform = Compose([*random, EnsureTyped("image", track_meta=False)])
        return Dataset(self._items(cases, model, config), transform)

    def validation_dataset(
        self, cases: Sequence[TrainingCase], model: TrainableModel, config: TrainingConfig
    ) -> Dataset:
        return Dataset(self._items(cases, model, config))

    def train_mode(self, network: torch.nn.Module, config: TrainingConfig) -> None:
        """Training mode, but batch-norm layers keep the statistics the model learnt (unless it trains
        from scratch): a fine-tuning batch holds a few cases, often of one class, and their statistics
        would wipe out what tells the classes apart."""
        network.train()
        if not config.from_scratch:
            for module in network.modules():
                if isinstance(module, torch.nn.modules.batchnorm._BatchNorm):
                    module.eval()

    def loss(self, output: torch.Tensor, batch: dict) -> torch.Tensor:
        return self._loss(output, batch["label"])

    def validate(
        self,
        network: torch.nn.Module,
        items: Dataset,
        model: TrainableModel,
        config: TrainingConfig,
        device: torch.device,
        amp: bool,
    ) -> list[ScoreRow]:
        """Whether each case's most probable class is its own; for two classes also its class and the
        probability of the second class, for the ROC AUC."""
        rows = []
        for index in range(len(items)):
            item = items[index]
            with torch.autocast(device.type, enabled=amp):
                logits = network(item["image"][None].to(device))
            probabilities = torch.softmax(logits.float()[0], dim=0).cpu().numpy()
            truth = int(item["label"])
            row = {"correct": float(int(np.argmax(probabilities)) == truth)}
            if len(probabilities) == 2:
                row |= {"truth": float(truth), "score": float(probabilities[1])}
            rows.append(row)
        return rows

    def summarise(self, rows: Sequence[ScoreRow]) -> dict[str, float]:
        """Accuracy over the cases, and the ROC AUC when both of two classes are among them."""
        metrics = {"accuracy": sum(row["correct"] for row in rows) / len(rows) if rows else 0.0}
        if rows and "score" in rows[0]:
            auc = roc_auc([int(row["truth"]) for row in rows], [row["score"] for row in rows])
            if not np.isnan(auc):
                metrics["roc_auc"] = auc
        return metrics

    def _items(self, cases: Sequence[TrainingCase], model: TrainableModel, config: TrainingConfig) -> list:
        size = tuple(config.patch_size or self.size)
        if len(size) != model.input.ndim:
            raise InputError(f"the image size {size} must have {model.input.ndim} values for this model")
        fit = ResizeWithPadOrCrop(size)
        return [
            {
                "image": convert_to_tensor(fit(model_input(case, model.input))),
                "label": torch.as_tensor(case.label),
            }
            for case in cases
        ]
