"""The plugin contract: what a model declares about itself and what its prediction holds.

A plugin is any object with an ``info: ModelInfo`` and a ``predict(scan, progress, cancel)`` that
returns a :class:`Prediction`. Bundled and third-party plugins implement the same contract and are
found through the same entry-point group (see :mod:`medview.models.registry`).
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from typing import Literal

import numpy as np

from medview.core.boxes import Box
from medview.core.errors import InputError
from medview.core.geometry import Geometry
from medview.core.labels import LabelTable
from medview.core.progress import CancelToken, ProgressCallback, no_progress
from medview.core.provenance import Provenance
from medview.core.scan import LabelMap, Scan

Task = Literal["segmentation", "detection", "classification"]
TASKS: tuple[str, ...] = ("segmentation", "detection", "classification")
ANY_MODALITY = "*"
UNKNOWN_MODALITY = "OT"
"""What files without a modality (NIfTI, PNG) are read as: any model may run on them."""


@dataclass(frozen=True)
class Normalisation:
    """How raw intensities become network input.

    ``range`` clips to ``[low, high]`` and maps that onto ``[0, 1]`` (CT in HU, 8-bit RGB with 0..255);
    ``zscore`` subtracts the image mean and divides by its standard deviation; ``none`` passes values on.
    """

    kind: Literal["none", "range", "zscore"] = "none"
    low: float = 0.0
    high: float = 1.0

    def __post_init__(self) -> None:
        if self.kind not in ("none", "range", "zscore"):
            raise ValueError(f"normalisation must be none, range or zscore, not {self.kind!r}")
        if self.kind == "range" and not self.high > self.low:
            raise ValueError(f"range normalisation needs high > low, got {self.low}..{self.high}")

    def apply(self, array: np.ndarray) -> np.ndarray:
        """Normalised float32 copy of ``array``."""
        values = np.asarray(array, dtype=np.float32)
        if self.kind == "range":
            return (np.clip(values, self.low, self.high) - self.low) / (self.high - self.low)
        if self.kind == "zscore":
            return (values - values.mean()) / max(float(values.std()), 1e-6)
        return values.copy()


@dataclass(frozen=True)
class InputSpec:
    """What the network expects.

    Attributes:
        ndim: 2 for images, 3 for volumes.
        channels: 1 for grey, 3 for RGB.
        target_spacing: the spacing (array order; mm, or µm for slides) the network was trained at;
            ``None`` runs at the scan's own spacing.
        patch_size: the sliding-window size in voxels (array order); ``None`` runs on the whole image.
        normalisation: intensity normalisation applied before the network.
    """

    ndim: int
    channels: int = 1
    target_spacing: tuple[float, ...] | None = None
    patch_size: tuple[int, ...] | None = None
    normalisation: Normalisation = field(default_factory=Normalisation)

    def __post_init__(self) -> None:
        if self.ndim not in (2, 3):
            raise ValueError(f"a model takes 2-D or 3-D input, not {self.ndim}-D")
        for name in ("target_spacing", "patch_size"):
            value = getattr(self, name)
            if value is not None and len(value) != self.ndim:
                raise ValueError(f"{name} {value} must have {self.ndim} values")

    def to_dict(self) -> dict:
        return {
            "ndim": self.ndim,
            "channels": self.channels,
            "target_spacing": None if self.target_spacing is None else list(self.target_spacing),
            "patch_size": None if self.patch_size is None else list(self.patch_size),
            "normalisation": {
                "kind": self.normalisation.kind,
                "low": self.normalisation.low,
                "high": self.normalisation.high,
            },
        }

    @classmethod
    def from_dict(cls, data: dict) -> InputSpec:
        spacing, patch = data.get("target_spacing"), data.get("patch_size")
        return cls(
            ndim=int(data["ndim"]),
            channels=int(data.get("channels", 1)),
            target_spacing=None if spacing is None else tuple(float(v) for v in spacing),
            patch_size=None if patch is None else tuple(int(v) for v in patch),
            normalisation=Normalisation(**data.get("normalisation", {})),
        )


@dataclass(frozen=True)
class ModelInfo:
    """What a plugin declares: identity, task, the scans it fits, its input and its outputs.

    Attributes:
        name: unique plugin name, used by ``medview predict --model NAME``.
        version: the model version; predictions record it in their provenance.
        task: ``segmentation``, ``detection`` or ``classification``.
        modalities: DICOM modality codes it accepts (``CT``, ``DX``, ``SM``...), or ``*`` for any.
        input: the input spec.
        labels: label table of its label map or boxes; for classification, the classes (value = index + 1).
        description: one line for lists.
    """

    name: str
    version: str
    task: Task
    modalities: tuple[str, ...]
    input: InputSpec
    labels: LabelTable = field(default_factory=LabelTable)
    description: str = ""

    def __post_init__(self) -> None:
        if self.task not in TASKS:
            raise ValueError(f"task must be one of {', '.join(TASKS)}, not {self.task!r}")

    @property
    def title(self) -> str:
        """``name version``: how layers made by this model are named."""
        return f"{self.name} {self.version}"

    def fits(self, scan: Scan) -> bool:
        """True when the scan's modality, dimension and channels are what the model takes; a scan of
        unknown modality (``OT``: NIfTI, PNG) fits by dimension and channels alone."""
        modality_ok = (
            ANY_MODALITY in self.modalities
            or scan.modality in self.modalities
            or scan.modality == UNKNOWN_MODALITY
        )
        channels = 3 if scan.rgb else 1
        return modality_ok and scan.geometry.ndim == self.input.ndim and channels == self.input.channels

    def to_dict(self) -> dict:
        """The fields ``medview models --json`` lists."""
        return {
            "name": self.name,
            "version": self.version,
            "task": self.task,
            "modalities": list(self.modalities),
            "input": self.input.to_dict(),
            "labels": self.labels.to_dict(),
            "description": self.description,
        }


@dataclass(eq=False)
class Prediction:
    """A model's output on one scan; exactly one of label map, boxes or probabilities is the answer.

    Attributes:
        info: the model that made it.
        provenance: ``Provenance.predicted(name, version)``.
        label_map: segmentation on the scan's voxel grid (same shape and geometry).
        boxes: detections in the scan's array index coordinates, best score first.
        probabilities: classification, one probability per class of ``info.labels``.
        saliency: optional ``[0, 1]`` map on the scan's spatial grid explaining the answer (Grad-CAM).
        geometry: the scan's geometry (for boxes and saliency).
    """

    info: ModelInfo
    provenance: Provenance
    geometry: Geometry
    label_map: LabelMap | None = None
    boxes: list[Box] | None = None
    probabilities: np.ndarray | None = None
    saliency: np.ndarray | None = None

    @property
    def class_names(self) -> list[str]:
        return [label.name for label in self.info.labels]

    def probabilities_by_class(self) -> dict[str, float]:
        """Class name -> probability, for display and JSON."""
        if self.probabilities is None:
            return {}
        return {name: float(p) for name, p in zip(self.class_names, self.probabilities, strict=True)}


class ModelPlugin(ABC):
    """Base class of model plugins: declare ``info`` and implement ``predict``.

    ``__init__`` must be cheap (no weight loading): the registry instantiates every plugin to list
    it. Load weights lazily on the first ``predict``.
    """

    info: ModelInfo

    @abstractmethod
    def predict(
        self, scan: Scan, progress: ProgressCallback = no_progress, cancel: CancelToken | None = None
    ) -> Prediction:
        """Run the model on ``scan``; raise :class:`~medview.core.progress.Cancelled` when cancelled."""

    def _prediction(self, scan: Scan, **outputs) -> Prediction:
        """A prediction with this model's provenance, made from ``scan``."""
        return Prediction(
            self.info,
            Provenance.predicted(self.info.name, self.info.version, derived_from=scan.source or scan.name),
            scan.geometry,
            **outputs,
        )


def label_prediction(plugin: ModelPlugin, scan: Scan, labels: np.ndarray) -> Prediction:
    """Wrap an integer array on the scan's grid as a segmentation prediction of ``plugin``."""
    prediction = plugin._prediction(scan)
    prediction.label_map = LabelMap(
        np.ascontiguousarray(labels, dtype=np.uint8 if labels.max(initial=0) < 256 else np.int32),
        scan.geometry,
        plugin.info.labels,
        prediction.provenance,
    )
    return prediction


def check_fits(info: ModelInfo, scan: Scan) -> None:
    """Raise :class:`~medview.core.errors.InputError` when ``info`` does not fit ``scan``."""
    if not info.fits(scan):
        kind = "RGB" if scan.rgb else "grey"
        raise InputError(
            f"model {info.title} takes {info.input.ndim}-D {'RGB' if info.input.channels == 3 else 'grey'} "
            f"{'/'.join(info.modalities)} images; {scan.name or 'this scan'} is a "
            f"{scan.geometry.ndim}-D {kind} {scan.modality} scan",
            scan.source,
        )
