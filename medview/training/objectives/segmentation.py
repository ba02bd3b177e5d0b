"""Segmentation: label maps -> patches with foreground oversampling, Dice-CE, validation Dice per class.

Training patches are cropped with foreground oversampling (``RandCropByPosNegLabeld``) and augmented
to suit the modality; cases still in progress train on their annotated slices only. Validation
predicts each whole (done) case through the plugin and scores Dice per class on the scan's grid
(:func:`medview.metrics.case_scores.label_scores`). Every class's label values are the model's, mapped
from the annotation by class name.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from pathlib import Path

import numpy as np
import torch
from monai.data import CacheDataset, Dataset, MetaTensor
from monai.transforms import (
    Compose,
    DeleteItemsd,
    EnsureTyped,
    MapTransform,
    NormalizeIntensityd,
    Rand2DElasticd,
    RandAdjustContrastd,
    RandCropByPosNegLabeld,
    RandFlipd,
    RandGaussianNoised,
    RandRotate90d,
    RandRotated,
    RandScaleIntensityd,
    RandShiftIntensityd,
    ScaleIntensityRanged,
    Spacingd,
    SpatialPadd,
)

from medview.annotations.nifti import load_nifti
from medview.core.errors import InputError
from medview.core.labels import LabelTable
from medview.core.scan import LabelMap, Scan
from medview.metrics.case_scores import label_scores
from medview.models.api import Normalisation, Prediction
from medview.models.network_plugin import NetworkPlugin
from medview.training.config import TrainingConfig
from medview.training.dataset import TrainingCase
from medview.training.objectives.base import (
    PREDICTED,
    CaseChoice,
    Objective,
    ScoreRow,
    case_scan,
    case_spacing,
    done_cases,
    patch_size,
)
from medview.training.partial import KnownIndicesd, SegmentationLoss, mask_unannotated
from medview.training.trainable import TrainableModel
from medview.workspace import AnnotationVersion, Case, Workspace

HISTOLOGY = "SM"
_INDICES = ("label_fg_indices", "label_bg_indices")  # KnownIndicesd's keys for "label"


class SegmentationObjective(Objective):
    """Dice-CE on foreground-oversampled patches; Dice per class (``dice_<class>``) and their mean (``dice``).

    The network outputs one logit channel per label value, channel 0 background.
    """

    metric = "dice"
    annotation_kind = "labels"

    def __init__(self) -> None:
        self._loss = SegmentationLoss()  # MONAI's Dice-CE that also skips unannotated slices

    def cases(
        self, workspace_dir: str | Path, plugin: NetworkPlugin, case_ids: Sequence[str] | None = None
    ) -> list[TrainingCase]:
        """Done cases whole, and cases still in progress by their annotated slices only (see
        :mod:`medview.training.partial`); an in-progress case whose newest labels are an uncorrected
        prediction is left out, so a model never trains on its own output."""
        in_progress = partly_annotated(workspace_dir)
        wanted = None if case_ids is None else [c for c in case_ids if c not in in_progress]
        chosen = [
            (case, annotation, False)
            for case, annotation in done_cases(workspace_dir, self.annotation_kind, wanted)
        ]
        chosen += [
            (case, annotation, True)
            for case_id, (case, annotation) in in_progress.items()
            if case_ids is None or case_id in case_ids
        ]
        cases = []
        for case, annotation, partial in chosen:
            scan = case_scan(case)
            label_map = load_nifti(annotation.path, scan)
            training_case = case_from_annotation(scan, label_map, plugin.info.labels)
            training_case.spacing, training_case.units = case_spacing(scan, plugin.info.input)
            if partial:
                training_case.label = mask_unannotated(training_case.label, label_map.array)
                training_case.partial = True
            cases.append(training_case)
        return cases

    def choices(self, workspace_dir: str | Path) -> list[CaseChoice]:
        """Done cases, then cases in progress (which train on their annotated slices only)."""
        in_progress = [
            CaseChoice(
                case.id, case.name, f"in progress, annotated slices only, labels v{annotation.version}"
            )
            for case, annotation in partly_annotated(workspace_dir).values()
        ]
        return super().choices(workspace_dir) + in_progress

    def training_dataset(
        self, cases: Sequence[TrainingCase], model: TrainableModel, config: TrainingConfig
    ) -> Dataset:
        spec = model.input
        return training_dataset(
            cases,
            patch_size(model, config),
            spec.normalisation,
            spec.target_spacing,
            config.samples_per_case,
            config.positive_fraction,
            config.augment,
        )

    def loss(self, output: torch.Tensor, batch: dict) -> torch.Tensor:
        return self._loss(output, batch["label"])

    def score(self, prediction: Prediction, case: TrainingCase) -> ScoreRow:
        """Dice of each model class the case's annotation holds, and their mean."""
        return label_scores(prediction.label_map.array, case.label, prediction.info.labels)


def partly_annotated(workspace_dir: str | Path) -> dict[str, tuple[Case, AnnotationVersion]]:
    """Cases in progress whose newest labels a person drew or corrected, by case id."""
    with Workspace.open(workspace_dir) as workspace:
        annotated = workspace.list_annotated_cases(done_only=False)
    return {
        case.id: (case, annotation)
        for case, annotation in annotated
        if case.status == "in_progress" and annotation.provenance.source != PREDICTED
    }


def case_from_annotation(scan: Scan, label_map: LabelMap, model_labels: LabelTable) -> TrainingCase:
    """Pair a scan with its annotation, mapping label values to the model's by class name.

    Classes the model does not know become background; a label map off the scan's grid, or one with
    none of the model's classes, is refused.
    """
    if not label_map.fits(scan):
        raise InputError(f"the annotation of {scan.name!r} does not lie on the scan's voxel grid")
    by_name = {label.name: label.value for label in model_labels}
    lookup = np.zeros(int(label_map.array.max()) + 1, np.uint8)
    for value in label_map.present_values():
        lookup[value] = by_name.get(label_map.labels.name_of(value), 0)
    label = lookup[label_map.array]
    if not label.any():
        known = ", ".join(label.name for label in model_labels)
        raise InputError(f"the annotation of {scan.name!r} has none of the model's classes ({known})")
    return TrainingCase(
        scan.name, np.asarray(scan.array), label, scan.modality, scan.geometry.spacing, units=scan.units
    )


def training_dataset(
    cases: Iterable[TrainingCase],
    patch_size: Sequence[int],
    normalisation: Normalisation,
    target_spacing: Sequence[float] | None,
    samples_per_case: int,
    positive_fraction: float,
    augment: bool,
) -> CacheDataset:
    """Random patches of the cases: preprocessing is cached, cropping and augmentation drawn anew each epoch.

    Each item is a list of ``samples_per_case`` dicts with ``image`` ``(C, *patch_size)`` float32 and
    ``label`` ``(1, *patch_size)``; MONAI's ``list_data_collate`` flattens them into one batch.
    """
    cases = list(cases)
    patch_size = tuple(patch_size)
    crop = RandCropByPosNegLabeld(
        keys=("image", "label"),
        label_key="label",
        spatial_size=patch_size,
        pos=positive_fraction,
        neg=1.0 - positive_fraction,
        num_samples=samples_per_case,
        fg_indices_key=_INDICES[0],
        bg_indices_key=_INDICES[1],
        allow_smaller=False,
    )
    # foreground and background voxel indices are found once, in the cache, not at every crop
    cached = _preprocessing(normalisation, target_spacing, patch_size) + [KnownIndicesd("label")]
    random = [crop, DeleteItemsd(_INDICES)]
    random += augmentation(cases[0].modality, len(patch_size)) if augment else []
    return CacheDataset(
        [_as_item(case) for case in cases],
        Compose(cached + random),
        progress=False,
    )


def augmentation(modality: str, ndim: int) -> list[MapTransform]:
    """Random augmentation suited to the modality, applied after cropping.

    Flips and small rotations for every modality, and intensity jitter (scale, shift, noise)
    for the scanner-to-scanner differences fine-tuning has to absorb. Histology (``SM``) also gets
    quarter turns, elastic deformation and contrast jitter for stain variation; volumes rotate only
    in-plane, around the slice axis, because their slice spacing is coarser.
    """
    keys = ("image", "label")
    spatial_axes = tuple(range(ndim))
    transforms: list[MapTransform] = [RandFlipd(keys, prob=0.5, spatial_axis=axis) for axis in spatial_axes]
    if modality == HISTOLOGY and ndim == 2:
        transforms += [
            RandRotate90d(keys, prob=0.5, spatial_axes=(0, 1)),
            Rand2DElasticd(
                keys,
                spacing=(16, 16),
                magnitude_range=(1, 3),
                prob=0.3,
                mode=("bilinear", "nearest"),
                padding_mode="reflection",
            ),
            RandAdjustContrastd("image", prob=0.3, gamma=(0.8, 1.25)),
        ]
    else:
        rotation = (0.26, 0.0, 0.0) if ndim == 3 else 0.26  # about 15 degrees
        transforms.append(
            RandRotated(keys, range_x=rotation, prob=0.2, mode=("bilinear", "nearest"), padding_mode="border")
        )
    transforms += [
        RandScaleIntensityd("image", factors=0.1, prob=0.5),
        RandShiftIntensityd("image", offsets=0.1, prob=0.5),
        RandGaussianNoised("image", std=0.02, prob=0.2),
    ]
    return transforms


def _preprocessing(
    normalisation: Normalisation, target_spacing: Sequence[float] | None, patch_size: tuple[int, ...]
) -> list:
    """Resample to the model's spacing, scale intensities as the model expects, pad to one patch."""
    keys = ("image", "label")
    transforms: list = []
    if target_spacing is not None:
        transforms.append(Spacingd(keys, pixdim=tuple(target_spacing), mode=("bilinear", "nearest")))
    if normalisation.kind == "range":
        transforms.append(
            ScaleIntensityRanged(
                "image", a_min=normalisation.low, a_max=normalisation.high, b_min=0.0, b_max=1.0, clip=True
            )
        )
    elif normalisation.kind == "zscore":
        transforms.append(NormalizeIntensityd("image"))
    return transforms + [SpatialPadd(keys, spatial_size=patch_size), EnsureTyped(keys, track_meta=False)]


def _as_item(case: TrainingCase) -> dict:
    """MONAI's channel-first dict; the affine carries the spacing for ``Spacingd``."""
    image = np.asarray(case.image, dtype=np.float32)
    image = np.moveaxis(image, -1, 0) if case.rgb else image[np.newaxis]
    ndim = case.label.ndim
    affine = np.diag([*(case.spacing or (1.0,) * ndim), 1.0])
    return {
        "image": MetaTensor(image, affine=affine),
        "label": MetaTensor(case.label[np.newaxis].astype(np.int64), affine=affine),
        "name": case.name,
    }
