"""Classification: one class per case -> whole images of a fixed size, the classifier's loss, accuracy.

The image is resampled to the model's spacing exactly as the inference engine does it, then padded
or cropped about its centre to a fixed size, so cases of different sizes batch together. Augmentation
is flips only: they keep the class of the image. Validation predicts each whole image through the
plugin, as a user's prediction runs.
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
from medview.metrics.case_scores import class_scores
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

    def score(self, prediction: Prediction, case: TrainingCase) -> ScoreRow:
        """Whether the plugin's most probable class is the case's (and its probabilities for the AUC)."""
        return class_scores(prediction.probabilities, int(case.label))

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
