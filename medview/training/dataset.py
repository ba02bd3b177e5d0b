"""Training data: annotated cases -> MONAI datasets of patches, split into training and validation by case.

A case is one scan with its label map, already remapped to the model's label values. Cases are
split whole, so slices of one patient never sit on both sides of the split. Training patches are
cropped with foreground oversampling (``RandCropByPosNegLabeld``) and augmented to suit the modality.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np
from monai.data import CacheDataset, MetaTensor
from monai.transforms import (
    Compose,
    DeleteItemsd,
    EnsureTyped,
    FgBgToIndicesd,
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

from medview.core.errors import InputError
from medview.core.labels import LabelTable
from medview.core.scan import LabelMap, Scan
from medview.models.api import Normalisation

HISTOLOGY = "SM"
_INDICES = ("label_fg_indices", "label_bg_indices")  # FgBgToIndicesd's keys for "label"


@dataclass
class TrainingCase:
    """One annotated scan, ready for training.

    Attributes:
        name: shown to the user and recorded with the run.
        image: ``(z, y, x)``, ``(y, x)`` or ``(y, x, 3)`` for RGB.
        label: integer array of the spatial shape, in the model's label values (0 background).
        modality: DICOM modality code; chooses the augmentation.
        spacing: voxel size in array order (mm, or µm for slides); needed to resample to a model's
            target spacing.
    """

    name: str
    image: np.ndarray
    label: np.ndarray
    modality: str = "OT"
    spacing: tuple[float, ...] | None = None

    @property
    def rgb(self) -> bool:
        return self.image.ndim == self.label.ndim + 1

    def digest(self) -> str:
        """SHA-256 of image and label, recorded with a run so its data can be recognised later."""
        hasher = hashlib.sha256()
        for array in (self.image, self.label):
            hasher.update(str((array.shape, array.dtype.str)).encode())
            hasher.update(np.ascontiguousarray(array).tobytes())
        return hasher.hexdigest()


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
    return TrainingCase(scan.name, np.asarray(scan.array), label, scan.modality, scan.geometry.spacing)


def split_by_case(
    cases: Sequence[TrainingCase], validation_fraction: float, seed: int
) -> tuple[list[TrainingCase], list[TrainingCase]]:
    """Shuffle whole cases with ``seed`` and hold out ``validation_fraction`` of them (at least one)."""
    if len(cases) < 2:
        raise InputError(f"fine-tuning needs 2 or more annotated cases (one to validate), found {len(cases)}")
    names = [case.name for case in cases]
    if len(set(names)) != len(names):
        raise InputError("two annotated cases share a name; each case must be unique")
    order = np.random.default_rng(seed).permutation(len(cases))
    held_out = min(len(cases) - 1, max(1, round(validation_fraction * len(cases))))
    validation = [cases[i] for i in sorted(order[:held_out])]
    training = [cases[i] for i in sorted(order[held_out:])]
    return training, validation


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
    cached = _preprocessing(normalisation, target_spacing, patch_size) + [FgBgToIndicesd("label")]
    random = [crop, DeleteItemsd(_INDICES)]
    random += augmentation(cases[0].modality, len(patch_size)) if augment else []
    return CacheDataset(
        [_as_item(case) for case in cases],
        Compose(cached + random),
        progress=False,
    )


def validation_dataset(
    cases: Iterable[TrainingCase],
    patch_size: Sequence[int],
    normalisation: Normalisation,
    target_spacing: Sequence[float] | None,
) -> CacheDataset:
    """Whole preprocessed cases (padded to at least one patch), for sliding-window validation."""
    transform = Compose(_preprocessing(normalisation, target_spacing, tuple(patch_size)))
    return CacheDataset([_as_item(case) for case in cases], transform, progress=False)


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
