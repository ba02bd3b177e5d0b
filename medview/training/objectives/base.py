"""The task-specific half of fine-tuning, behind one interface, and what the objectives share.

The loop (:mod:`medview.training.loop`) knows nothing of labels, boxes or classes: an
:class:`Objective` reads the workspace annotations of its kind, builds the MONAI dataset and computes
the loss. Validation is the same for every task and the same as for users: the plugin predicts each
whole case through the inference engine (its own preprocessing and postprocessing), and the
objective scores the prediction on the scan's grid with :mod:`medview.metrics.case_scores`.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from monai.data import Dataset

from medview.core.errors import InputError
from medview.core.geometry import Geometry
from medview.core.progress import CancelToken
from medview.core.scan import Scan
from medview.io import open_scan
from medview.metrics.case_scores import summarise
from medview.models.api import InputSpec, ModelPlugin, Prediction
from medview.models.engine import Engine, physical_spacing
from medview.models.network_plugin import NetworkPlugin
from medview.training.config import TrainingConfig
from medview.training.dataset import TrainingCase
from medview.training.trainable import TrainableModel
from medview.workspace import AnnotationVersion, Case, Workspace


@dataclass(frozen=True)
class CaseChoice:
    """A workspace case a run can train on, as the training panel lists it."""

    case_id: str
    name: str
    detail: str


ScoreRow = dict[str, float]
"""One case's scores (:mod:`medview.metrics.case_scores`); :meth:`Objective.summarise` turns all rows
into metrics."""
PREDICTED = "model"
"""Provenance source of a model's output: never a reference to train on or score against."""


class Objective(ABC):
    """What a model is fine-tuned for: its data, its loss and its validation metric.

    Attributes:
        metric: name of the primary validation score, higher is better (``dice``, ``f1``,
            ``accuracy``); early stopping and the best epoch follow it.
        annotation_kind: the workspace annotation it learns from (``labels``, ``boxes``, ``class``).
        learning_rate: the default peak learning rate: a third of the bundled networks' own peak
            (3e-3), enough to adapt a small network to a new site within minutes on a CPU.
    """

    metric: str
    annotation_kind: str
    learning_rate: float = 1e-3

    def choices(self, workspace_dir: str | Path) -> list[CaseChoice]:
        """The cases :meth:`cases` can use, to offer them to the user: the done ones with an annotation
        of :attr:`annotation_kind`."""
        return [
            CaseChoice(case.id, case.name, f"{self.annotation_kind} v{annotation.version}")
            for case, annotation in done_cases(workspace_dir, self.annotation_kind, None)
        ]

    @abstractmethod
    def cases(
        self, workspace_dir: str | Path, plugin: NetworkPlugin, case_ids: Sequence[str] | None = None
    ) -> list[TrainingCase]:
        """The workspace's ``done`` cases with an annotation of this objective's kind (only those of
        ``case_ids`` when given), in the plugin's terms."""

    @abstractmethod
    def training_dataset(
        self, cases: Sequence[TrainingCase], model: TrainableModel, config: TrainingConfig
    ) -> Dataset:
        """Random training samples; items are dicts (or lists of dicts) with ``image`` ``(C, *patch)``.

        Its ``transform`` is a MONAI ``Compose``, which the loop reseeds every epoch.
        """

    def train_mode(self, network: torch.nn.Module, config: TrainingConfig) -> None:
        """Put ``network`` in training mode before an epoch (validation puts it in eval mode)."""
        network.train()

    @abstractmethod
    def loss(self, output: torch.Tensor, batch: dict) -> torch.Tensor:
        """The training loss of a network ``output`` on a collated ``batch`` (tensors on its device)."""

    @abstractmethod
    def score(self, prediction: Prediction, case: TrainingCase) -> ScoreRow:
        """The scores of the plugin's ``prediction`` of ``case``'s whole scan against its annotation,
        with :mod:`medview.metrics.case_scores`; :attr:`metric` among them."""

    def validate(
        self, predictor: ModelPlugin, cases: Sequence[TrainingCase], cancel: CancelToken | None = None
    ) -> list[ScoreRow]:
        """One score row per case: ``predictor`` (the plugin running the network as it is now)
        predicts each case's scan as a user's prediction would run, and :meth:`score` scores it."""
        return [self.score(predictor.predict(case_as_scan(case), cancel=cancel), case) for case in cases]

    def summarise(self, rows: Sequence[ScoreRow]) -> dict[str, float]:
        """The metrics over cases: each score's mean over the cases where it is defined, :attr:`metric`
        first (:func:`medview.metrics.case_scores.summarise`)."""
        return summarise(rows, self.metric)


def patch_size(model: TrainableModel, config: TrainingConfig) -> tuple[int, ...]:
    """The run's training patch: the configuration's, else the model's."""
    return tuple(config.patch_size or model.patch_size)


def done_cases(
    workspace_dir: str | Path, kind: str, case_ids: Sequence[str] | None
) -> list[tuple[Case, AnnotationVersion]]:
    """The workspace's ``done`` cases with a ``kind`` annotation by a person and its newest such version
    (a model's saved output is never the reference), in the workspace's order; every one of
    ``case_ids`` must be among them."""
    with Workspace.open(workspace_dir) as workspace:
        annotated = [
            (case, human[-1])
            for case in workspace.cases()
            if case.status == "done"
            and (
                human := [v for v in workspace.annotations(case.id, kind) if v.provenance.source != PREDICTED]
            )
        ]
    if case_ids is None:
        return annotated
    missing = set(case_ids) - {case.id for case, _ in annotated}
    if missing:
        raise InputError(
            f"not done cases with a {kind} annotation in this workspace: {', '.join(sorted(missing))}"
        )
    return [(case, annotation) for case, annotation in annotated if case.id in case_ids]


def case_scan(case: Case) -> Scan:
    """The case's scan, named by its case id (the name runs record)."""
    scan = open_scan(case.path)
    scan.name = case.id
    return scan


def case_as_scan(case: TrainingCase) -> Scan:
    """The case's image as a scan on its own grid, with its spacing in the model's unit."""
    geometry = Geometry.from_spacing(case.spacing)
    return Scan(np.asarray(case.image), geometry, case.modality, case.name, rgb=case.rgb, units=case.units)


def model_input(case: TrainingCase, spec: InputSpec) -> torch.Tensor:
    """The case's image as the model sees it at inference: ``(C, *shape)`` float32, normalised and
    resampled to the model's spacing by the inference engine's own preprocessing (so the case needs
    its ``spacing``)."""
    return Engine(torch.device("cpu")).network_input(case_as_scan(case), spec)[0]


def case_spacing(scan: Scan, spec: InputSpec) -> tuple[tuple[float, ...], str]:
    """A training case's spacing in the model's unit, and that unit (µm slides for a model trained in
    mm are converted, as the inference engine converts them).

    Raises:
        InputError: the scan's pixel size is unknown and the model needs one: training on it would
            teach the model that a pixel is a millimetre.
    """
    spacing = physical_spacing(scan, spec)
    if not scan.spacing_known:
        return spacing, scan.units
    return spacing, spec.spacing_units if spec.target_spacing is not None else scan.units


def grid_factors(case: TrainingCase, image: torch.Tensor) -> np.ndarray:
    """Per-axis scale from the case's index grid to the model grid of ``image`` ``(C, *shape)``."""
    spatial = case.image.shape[: image.ndim - 1]
    return np.asarray(image.shape[1:], float) / np.asarray(spatial, float)
