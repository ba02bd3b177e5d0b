"""What a training run is asked to do: one dataclass, saved with the run as JSON."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, fields

from medview.core.errors import InputError


@dataclass
class TrainingConfig:
    """Settings of one fine-tuning (or from-scratch) run.

    The budget is ``epochs`` or ``minutes`` (whichever ends first when both are set); the cosine
    learning-rate schedule spans that budget. Shapes are in array order ``(z, y, x)`` or ``(y, x)``.

    Attributes:
        model: name of the model plugin to start from.
        epochs: most epochs to run; ``None`` for a budget in minutes only.
        minutes: wall-clock budget for the epochs (their validation included), counted after the
            starting model's validation.
        from_scratch: start from random weights instead of the plugin's.
        device: ``cpu``, ``cuda`` or ``auto`` (CUDA when available).
        patch_size: training patch in voxels; ``None`` uses the model's own (for classification,
            the size whole images are padded or cropped to; ``None`` uses the objective's).
        batch_size: cases per optimiser step (per process under DDP); each gives ``samples_per_case``
            patches, so a step sees ``batch_size * samples_per_case`` patches (MONAI's convention).
        samples_per_case: patches cropped from each case per epoch (a classification case gives
            one whole image).
        positive_fraction: share of patches centred on foreground, or holding a box centre for
            detection (oversampling the annotation).
        learning_rate: peak AdamW learning rate, reached at the start and decayed by a cosine;
            ``None`` takes the objective's (``Objective.learning_rate``).
        weight_decay: AdamW weight decay.
        validation_fraction: share of the cases left after the test cases held out for validation
            (at least one case); validation chooses the best epoch.
        test_fraction: share of the complete cases set aside as the workspace's test cases when it
            has none recorded yet (:mod:`medview.training.splits`); ``0`` sets none aside.
        patience: epochs without a better primary validation score (Dice, F1, accuracy) before
            stopping early; ``0`` never stops.
        seed: seeds the case split, patch sampling and augmentation.
        augment: apply the modality's random augmentation to training patches.
        num_workers: data-loading processes; ``0`` loads in the training process.
        cases: workspace case ids to train and validate on; ``None`` for every annotated case.
    """

    model: str
    epochs: int | None = 10
    minutes: float | None = None
    from_scratch: bool = False
    device: str = "auto"
    patch_size: tuple[int, ...] | None = None
    batch_size: int = 2
    samples_per_case: int = 4
    positive_fraction: float = 2 / 3
    learning_rate: float | None = None
    weight_decay: float = 1e-5
    validation_fraction: float = 0.2
    test_fraction: float = 0.2
    patience: int = 0
    seed: int = 0
    augment: bool = True
    num_workers: int = 0
    cases: tuple[str, ...] | None = None

    def __post_init__(self) -> None:
        if self.epochs is None and self.minutes is None:
            raise InputError("give a training budget: a number of epochs or of minutes")
        if self.epochs is not None and self.epochs < 1:
            raise InputError(f"epochs must be at least 1, got {self.epochs}")
        if self.minutes is not None and self.minutes <= 0:
            raise InputError(f"minutes must be positive, got {self.minutes}")
        if not 0 < self.validation_fraction < 1:
            raise InputError(f"validation fraction must lie between 0 and 1, got {self.validation_fraction}")
        if not 0 <= self.test_fraction < 1:
            raise InputError(f"test fraction must lie from 0 up to 1, got {self.test_fraction}")
        if self.device not in ("auto", "cpu", "cuda"):
            raise InputError(f"device must be cpu, cuda or auto, got {self.device!r}")
        if self.patch_size is not None:
            self.patch_size = tuple(int(v) for v in self.patch_size)
        if self.cases is not None:
            self.cases = tuple(str(case) for case in self.cases)

    def to_json(self) -> str:
        return json.dumps(asdict(self), indent=2)

    @classmethod
    def from_json(cls, text: str) -> TrainingConfig:
        data = json.loads(text)
        known = {f.name for f in fields(cls)}
        return cls(**{key: value for key, value in data.items() if key in known})
