"""The plugin contract: what a model declares about itself and what its prediction holds.

A plugin is any object with an ``info: ModelInfo`` and a ``predict(scan, progress, cancel)`` that
returns a :class:`Prediction`. Bundled and third-party plugins implement the same contract and are
found through the same entry-point group (see :mod:`medview.models.registry`).
"""

from __future__ import annotations

import dataclasses
import math
from abc import ABC, abstractmethod
from collections.abc import Sequence
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
SPACING_UNITS = ("mm", "um")
"""Units a model's ``target_spacing`` may be in: millimetres (radiology) or microns (slides)."""


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
        needs_spacing: the network only works at a known physical pixel size, so a scan whose pixel
            size is unknown (``units == "pixel"``) is refused unless one is assumed. ``None`` (the
            default) means "whenever ``target_spacing`` is set". A model that declares ``False``
            despite a target spacing runs on such scans at their own pixel grid, unresampled.
        spacing_units: what ``target_spacing`` is measured in, ``mm`` or ``um``; scans in the other
            unit are converted, never read as if they were in this one.
    """

    ndim: int
    channels: int = 1
    target_spacing: tuple[float, ...] | None = None
    patch_size: tuple[int, ...] | None = None
    normalisation: Normalisation = field(default_factory=Normalisation)
    needs_spacing: bool | None = None
    spacing_units: Literal["mm", "um"] = "mm"

    def __post_init__(self) -> None:
        if self.ndim not in (2, 3):
            raise ValueError(f"a model takes 2-D or 3-D input, not {self.ndim}-D")
        if self.spacing_units not in SPACING_UNITS:
            raise ValueError(f"spacing_units must be mm or um, not {self.spacing_units!r}")
        if self.needs_spacing is None:  # frozen: resolve the default once, so equality round-trips
            object.__setattr__(self, "needs_spacing", self.target_spacing is not None)
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
            "needs_spacing": self.needs_spacing,
            "spacing_units": self.spacing_units,
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
            needs_spacing=None if data.get("needs_spacing") is None else bool(data["needs_spacing"]),
            spacing_units=data.get("spacing_units", "mm"),
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
        return self.takes(scan) and self.trained_on(scan.modality)

    def takes(self, scan: Scan) -> bool:
        """True when the network can run on the scan at all: its dimension and channels match."""
        channels = 3 if scan.rgb else 1
        return scan.geometry.ndim == self.input.ndim and channels == self.input.channels

    def trained_on(self, modality: str) -> bool:
        """True when ``modality`` is one the model was trained on, or unknown (``OT``: NIfTI, PNG),
        where medview cannot tell and leaves it to the user."""
        return ANY_MODALITY in self.modalities or modality in self.modalities or modality == UNKNOWN_MODALITY

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
        notes: what the user must know about how it was made, e.g. an assumed pixel size.
    """

    info: ModelInfo
    provenance: Provenance
    geometry: Geometry
    label_map: LabelMap | None = None
    boxes: list[Box] | None = None
    probabilities: np.ndarray | None = None
    saliency: np.ndarray | None = None
    notes: list[str] = field(default_factory=list)

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
    """Raise :class:`~medview.core.errors.InputError` when the network cannot take ``scan`` (its
    dimension or channels differ). What the user may override (another modality, an unknown pixel
    size) is checked before running by :func:`input_concerns`."""
    if not info.takes(scan):
        kind = "RGB" if scan.rgb else "grey"
        raise InputError(
            f"model {info.title} takes {info.input.ndim}-D {'RGB' if info.input.channels == 3 else 'grey'} "
            f"{'/'.join(info.modalities)} images; {scan.name or 'this scan'} is a "
            f"{scan.geometry.ndim}-D {kind} {scan.modality} scan",
            scan.source,
        )


ConcernKind = Literal["modality", "spacing"]


@dataclass(frozen=True)
class InputConcern:
    """A reason a model may give wrong answers on a scan, in words a user understands.

    Attributes:
        kind: ``modality`` (the scan is of a modality the model was not trained on; the user may run
            it anyway) or ``spacing`` (the model needs a pixel size the scan does not give; the user
            may assume one, never run without).
        message: the reason, naming the model and what it was trained on.
    """

    kind: ConcernKind
    message: str

    def __str__(self) -> str:
        return self.message


def input_concerns(info: ModelInfo, scan: Scan) -> list[InputConcern]:
    """Why running the model described by ``info`` on ``scan`` may be wrong; empty when nothing is.

    Every path that runs a model (``medview predict``, the Models panel, :func:`predict_safely
    <medview.models.registry.predict_safely>`) asks this first. The dimension and channels are not
    concerns but hard limits (:func:`check_fits`).
    """
    concerns = []
    if not info.trained_on(scan.modality):
        concerns.append(
            InputConcern(
                "modality",
                f"{info.name} was trained on {_modalities(info)} images; this scan is {scan.modality}",
            )
        )
    if info.input.needs_spacing and not scan.spacing_known:
        trained = f"trained on {_modalities(info)}" if ANY_MODALITY not in info.modalities else "trained"
        at = (
            f" at {format_spacing(info.input.target_spacing, info.input.spacing_units)}"
            if info.input.target_spacing is not None
            else f" with a known pixel size in {unit_text(info.input.spacing_units)}"
        )
        concerns.append(
            InputConcern(
                "spacing", f"{info.name} was {trained}{at}; this scan's pixel size is unknown (pixel units)"
            )
        )
    return concerns


def unresolved_concerns(
    info: ModelInfo,
    scan: Scan,
    any_modality: bool = False,
    assumed_spacing: Sequence[float] | None = None,
) -> list[InputConcern]:
    """The concerns left once the user has accepted another modality (``any_modality``) and given an
    assumed pixel size (``assumed_spacing``, in the model's ``spacing_units``) for a scan without one."""
    return [
        concern
        for concern in input_concerns(info, scan)
        if not (concern.kind == "modality" and any_modality)
        and not (concern.kind == "spacing" and assumed_spacing is not None)
    ]


def parse_spacing(text: str, ndim: int) -> tuple[float, ...]:
    """A pixel size typed by the user: one number for every axis, or ``ndim`` comma-separated numbers
    in array order (``z, y, x``), each above zero.

    Raises:
        InputError: anything else, quoting what was typed.
    """
    try:
        values = tuple(float(part) for part in text.replace(" ", "").split(","))
    except ValueError:
        values = ()
    if len(values) == 1:
        values = values * ndim
    if len(values) != ndim or not all(math.isfinite(v) and v > 0 for v in values):
        raise InputError(
            f"a pixel size is one number, or {ndim} comma-separated numbers in array order, each above "
            f"zero; got {text!r}"
        )
    return values


def assume_spacing(scan: Scan, spacing: Sequence[float], units: str = "mm") -> Scan:
    """A copy of ``scan`` (sharing its pixels) whose pixel size of unknown size is taken to be
    ``spacing`` (array order) in ``units``; origin and direction stay as they were.

    Raises:
        InputError: the scan's pixel size is known, so nothing may be assumed over it.
    """
    if scan.spacing_known:
        raise InputError(
            f"the pixel size of this scan is known ({format_spacing(scan.spacing, scan.units)}); an assumed "
            "pixel size is only for scans without one",
            scan.source,
        )
    if len(spacing) != scan.geometry.ndim:
        raise InputError(f"an assumed pixel size needs {scan.geometry.ndim} values, got {len(spacing)}")
    note = assumption_note(spacing, units)
    geometry = Geometry.from_spacing(spacing, scan.geometry.origin, scan.geometry.direction)
    return dataclasses.replace(
        scan,
        geometry=geometry,
        units=units,
        metadata={**scan.metadata, "assumed_spacing": [float(v) for v in spacing]},
        warnings=[*scan.warnings, note],
    )


def assumption_note(spacing: Sequence[float], units: str) -> str:
    """How a prediction records that it ran at an assumed pixel size."""
    return f"assumed pixel size {format_spacing(spacing, units)} (the file gives none)"


def format_spacing(spacing: Sequence[float], units: str) -> str:
    """``2 x 0.8 x 0.8 mm``: a spacing for messages, array order, three significant digits."""
    return " x ".join(f"{value:.3g}" for value in spacing) + f" {unit_text(units)}"


def unit_text(units: str) -> str:
    """How a unit code is written for people: ``um`` is ``µm``."""
    return "µm" if units == "um" else units


def _modalities(info: ModelInfo) -> str:
    return "/".join(info.modalities)
