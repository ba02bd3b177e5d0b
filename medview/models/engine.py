"""Run a network on a scan: device choice, resampling to the model's spacing and back, intensity
normalisation, MONAI sliding-window inference, mixed precision on CUDA, progress and cancel.

Large 2-D images (whole-slide images) are processed tile by tile at a chosen pyramid level, so memory
is bounded by the tile size plus the output label array at that level.

A scan whose pixel size is unknown (``units == "pixel"``) is never resampled as if its pixels were
millimetres: a model that needs a pixel size refuses it (:func:`physical_spacing`) until one is
assumed (:func:`medview.models.api.assume_spacing`).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
import torch
from monai.inferers import sliding_window_inference
from monai.transforms import Resize

from medview.core.errors import InputError
from medview.core.geometry import Geometry
from medview.core.progress import CancelToken, ProgressCallback, no_progress
from medview.core.scan import Scan
from medview.models.api import InputSpec, format_spacing

DEVICES = ("cuda", "mps", "cpu")
TILE_PIXELS = 2048 * 2048
"""2-D images with more pixels than this (or multiscale ones) are segmented tile by tile."""
_PER_MM = {"mm": 1.0, "um": 1000.0}


def choose_device(preferred: str | None = None) -> torch.device:
    """CUDA when available, then Apple MPS, then CPU; ``preferred`` (``cpu``, ``cuda``, ``cuda:1``,
    ``mps``) overrides, and asking for a device this machine lacks is an :class:`InputError`."""
    if preferred:
        kind = preferred.split(":")[0]
        if kind not in DEVICES:
            raise InputError(f"unknown device {preferred!r}; choose one of {', '.join(DEVICES)}")
        if not _available(kind):
            raise InputError(f"device {preferred!r} is not available on this machine")
        return torch.device(preferred)
    return torch.device(next(kind for kind in DEVICES if _available(kind)))


@dataclass
class Engine:
    """How to run networks: on which device, with mixed precision or not, how many windows at once.

    Attributes:
        device: where the network runs (see :func:`choose_device`).
        amp: use float16 autocast; only ever applied on CUDA.
        sw_batch_size: windows per forward pass.
        overlap: fraction of overlap between neighbouring windows.
    """

    device: torch.device
    amp: bool = True
    sw_batch_size: int = 4
    overlap: float = 0.25

    @classmethod
    def create(cls, device: str | None = None, **options) -> Engine:
        return cls(choose_device(device), **options)

    @property
    def uses_amp(self) -> bool:
        return self.amp and self.device.type == "cuda"

    def network_input(self, scan: Scan, spec: InputSpec) -> torch.Tensor:
        """The scan as a normalised ``(1, C, *spatial)`` float tensor at the model's spacing."""
        spacing = physical_spacing(scan, spec)
        return _to_model_grid(_channels_first(np.asarray(scan.array), scan, spec), spacing, spec)

    def logits(
        self,
        network: torch.nn.Module,
        image: torch.Tensor,
        patch_size: Sequence[int] | None,
        progress: ProgressCallback = no_progress,
        cancel: CancelToken | None = None,
    ) -> torch.Tensor:
        """Network output for ``image`` ``(1, C, *spatial)``: sliding windows of ``patch_size`` (padded
        when the image is smaller), or one forward pass when ``patch_size`` is ``None``. On CPU."""
        network = network.to(self.device).eval()
        with torch.inference_mode(), torch.autocast("cuda", torch.float16, enabled=self.uses_amp):
            if patch_size is None:
                _check(cancel)
                output = network(image.to(self.device))
                progress(1.0, "done")
                return output.float().cpu()
            predictor = _reporting(
                network,
                _window_count(image.shape[2:], patch_size, self.overlap, self.sw_batch_size),
                progress,
                cancel,
            )
            output = sliding_window_inference(
                image.to(self.device),
                tuple(patch_size),
                self.sw_batch_size,
                predictor,
                overlap=self.overlap,
                mode="gaussian",
            )
        return output.float().cpu()

    def segment(
        self,
        network: torch.nn.Module,
        scan: Scan,
        spec: InputSpec,
        progress: ProgressCallback = no_progress,
        cancel: CancelToken | None = None,
        level: int = 0,
    ) -> tuple[np.ndarray, Geometry]:
        """Class index per voxel of ``scan`` (or of pyramid ``level`` for multiscale images) and the
        geometry of that grid. The argmax is taken at the model's spacing and resampled back
        nearest-neighbour."""
        if scan.has_time_axis:
            raise InputError("models run on one time point; this scan has a time axis", scan.source)
        if scan.geometry.ndim == 2 and (scan.is_multiscale or math.prod(scan.spatial_shape) > TILE_PIXELS):
            return self.segment_tiles(network, scan, spec, level, progress=progress, cancel=cancel)
        image = self.network_input(scan, spec)
        logits = self.logits(network, image, spec.patch_size, progress, cancel)
        return _labels_back(logits, scan.spatial_shape), scan.geometry

    def segment_tiles(
        self,
        network: torch.nn.Module,
        scan: Scan,
        spec: InputSpec,
        level: int = 0,
        tile: int = 1024,
        progress: ProgressCallback = no_progress,
        cancel: CancelToken | None = None,
    ) -> tuple[np.ndarray, Geometry]:
        """Segment a 2-D image tile by tile at pyramid ``level``; each tile is read with a margin of
        half a patch so windows near tile edges see their context. Returns labels and their geometry."""
        levels = scan.levels or (scan.array,)
        if not 0 <= level < len(levels):
            raise InputError(f"the image has {len(levels)} levels; level {level} does not exist", scan.source)
        source = levels[level]
        shape = tuple(int(s) for s in source.shape[:2])
        geometry = level_geometry(scan.geometry, scan.spatial_shape, shape)
        spacing = physical_spacing(scan, spec, geometry.spacing)
        margin = max(spec.patch_size or (32, 32)) // 2
        labels = np.zeros(shape, np.uint8)
        starts = [(y, x) for y in range(0, shape[0], tile) for x in range(0, shape[1], tile)]
        for index, (y, x) in enumerate(starts):
            _check(cancel)
            y0, x0 = max(y - margin, 0), max(x - margin, 0)
            y1, x1 = min(y + tile + margin, shape[0]), min(x + tile + margin, shape[1])
            pixels = _channels_first(np.asarray(source[y0:y1, x0:x1]), scan, spec)
            image = _to_model_grid(pixels, spacing, spec)
            logits = self.logits(network, image, spec.patch_size, cancel=cancel)
            part = _labels_back(logits, (y1 - y0, x1 - x0))
            ty1, tx1 = min(y + tile, shape[0]), min(x + tile, shape[1])
            labels[y:ty1, x:tx1] = part[y - y0 : ty1 - y0, x - x0 : tx1 - x0]
            progress((index + 1) / len(starts), f"tile {index + 1} of {len(starts)}")
        return labels, geometry


def level_geometry(full: Geometry, full_shape: Sequence[int], level_shape: Sequence[int]) -> Geometry:
    """Geometry of a downsampled pyramid level covering the same field of view as the full image."""
    factors = np.asarray(full_shape, float) / np.asarray(level_shape, float)
    affine = full.affine.copy()
    linear = full.affine[: full.ndim, : full.ndim]
    affine[: full.ndim, : full.ndim] = linear * factors[np.newaxis, :]
    affine[: full.ndim, full.ndim] = full.affine[: full.ndim, full.ndim] + linear @ ((factors - 1) / 2)
    return Geometry(affine)


def physical_spacing(
    scan: Scan, spec: InputSpec, spacing: Sequence[float] | None = None
) -> tuple[float, ...]:
    """``spacing`` (default: the scan's; array order) in the unit of the model's ``target_spacing``,
    what :func:`model_shape` resamples from.

    A scan in µm going to a model trained in mm (or the reverse) is converted. A scan of unknown pixel
    size goes to a model that does not need one at the model's own spacing, so it is not resampled.

    Raises:
        InputError: the scan's pixel size is unknown and the model needs one (``spec.needs_spacing``).
    """
    spacing = tuple(scan.spacing if spacing is None else spacing)
    if not scan.spacing_known:
        if spec.needs_spacing:
            trained = (
                f"was trained at {format_spacing(spec.target_spacing, spec.spacing_units)}"
                if spec.target_spacing is not None
                else "needs a known pixel size"
            )
            raise InputError(
                f"this scan's pixel size is unknown (pixel units) and the model {trained}; running it "
                "would treat pixels as a physical size. Give an assumed pixel size to run it",
                scan.source,
            )
        return spacing if spec.target_spacing is None else tuple(spec.target_spacing)
    if spec.target_spacing is None:
        return spacing
    factor = _PER_MM[spec.spacing_units] / _PER_MM[scan.units]
    return tuple(value * factor for value in spacing)


def model_shape(shape: Sequence[int], spacing: Sequence[float], spec: InputSpec) -> tuple[int, ...]:
    """Grid size of the scan's field of view at the model's spacing."""
    if spec.target_spacing is None:
        return tuple(int(s) for s in shape)
    return tuple(
        max(1, round(n * s / t)) for n, s, t in zip(shape, spacing, spec.target_spacing, strict=True)
    )


def _channels_first(array: np.ndarray, scan: Scan, spec: InputSpec) -> np.ndarray:
    channels = array.shape[-1] if scan.rgb else 1
    if channels != spec.channels:
        raise InputError(f"the model takes {spec.channels} channel(s); the scan has {channels}", scan.source)
    values = np.moveaxis(array, -1, 0) if scan.rgb else array[np.newaxis]
    return spec.normalisation.apply(values)


def _to_model_grid(image: np.ndarray, spacing: Sequence[float], spec: InputSpec) -> torch.Tensor:
    tensor = torch.from_numpy(np.ascontiguousarray(image))
    target = model_shape(image.shape[1:], spacing, spec)
    if target != tuple(image.shape[1:]):
        shrinking = any(t < s for t, s in zip(target, image.shape[1:], strict=True))
        mode = "trilinear" if spec.ndim == 3 else "bilinear"
        tensor = Resize(target, mode=mode, align_corners=False, anti_aliasing=shrinking)(tensor)
    return torch.as_tensor(tensor).unsqueeze(0).float()


def _labels_back(logits: torch.Tensor, shape: Sequence[int]) -> np.ndarray:
    labels = torch.argmax(logits[0], dim=0, keepdim=True).to(torch.float32)
    if tuple(labels.shape[1:]) != tuple(shape):
        labels = torch.as_tensor(Resize(tuple(shape), mode="nearest-exact")(labels))
    return labels[0].numpy().astype(np.uint8)


def _window_count(shape: Sequence[int], patch: Sequence[int], overlap: float, batch: int) -> int:
    """Forward passes MONAI's sliding window will make (its scan interval rule)."""
    count = 1
    for size, roi in zip(shape, patch, strict=True):
        step = max(int(roi * (1 - overlap)), 1) if size > roi else roi
        count *= 1 if size <= roi else math.ceil((size - roi) / step) + 1
    return max(math.ceil(count / batch), 1)


def _reporting(
    network: torch.nn.Module, batches: int, progress: ProgressCallback, cancel: CancelToken | None
) -> Callable[[torch.Tensor], torch.Tensor]:
    done = [0]

    def predict(windows: torch.Tensor) -> torch.Tensor:
        _check(cancel)
        output = network(windows)
        done[0] += 1
        progress(min(done[0] / batches, 1.0), f"window batch {done[0]} of {batches}")
        return output

    return predict


def _check(cancel: CancelToken | None) -> None:
    if cancel is not None:
        cancel.raise_if_cancelled()


def _available(kind: str) -> bool:
    if kind == "cuda":
        return torch.cuda.is_available()
    if kind == "mps":
        return bool(getattr(torch.backends, "mps", None) and torch.backends.mps.is_available())
    return True
