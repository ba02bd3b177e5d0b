"""Segmenting a CT with the bundled 3-D U-Net: medview's whole predict path vs a plain MONAI script.

medview: ``CTUNet3D(engine).predict(scan)``, everything a user's click runs: the scan normalised
(-1000..500 HU onto 0..1) and resampled to the model's spacing, MONAI sliding-window inference
(patch 32 x 64 x 64, overlap 0.25, Gaussian blending, 4 windows per batch) under
``torch.inference_mode``, argmax, and the labels resampled back onto the scan's grid (nearest).

Reference: what a MONAI user writes for the same model: the same network with the same weights
(built and loaded from the plugin's safetensors file by the script itself), ``ScaleIntensityRange``
(same window, clipped) and ``Spacing`` to the model's spacing (``scale_extent=True``, which samples
the field of view onto the same 64 x 96 x 96 grid the network was trained on), the same
``sliding_window_inference`` arguments, argmax, and ``ResampleToMatch(mode="nearest")`` back onto
the scan. Both start from the same in-memory demo CT (``--shape``, default 160 x 256 x 256 at 2.0 x
0.8 x 0.8 mm) and run in one process, so on the same cores, with the same torch thread count
(``--threads``, default torch's) on the same device; on CUDA ``--amp`` gives both float16 autocast.
They differ in one step: medview smooths before shrinking (anti-aliasing), MONAI's ``Spacing`` does
not, so the labels agree closely but not exactly; the line reports the fraction of voxels, and of
foreground voxels, that agree.

Prints one JSON line (``benchmarks/measurement.py``): the fastest of ``--repeats`` interleaved runs
after a warm-up, ratio = MONAI seconds / medview seconds (speedup, above 1 is medview faster; target
>= 1.0).

    nice .venv/bin/python benchmarks/bench_sliding_window.py [--repeats 3] [--threads N] [--device cpu]
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable

import numpy as np
import torch
from measurement import available_cores, emit
from medview_plugins.ct_unet3d.plugin import INFO, PATCH, SPACING_MM, CTUNet3D, build_network
from monai.data import MetaTensor
from monai.inferers import sliding_window_inference
from monai.transforms import Compose, ResampleToMatch, ScaleIntensityRange, Spacing
from safetensors.torch import load_file

from medview.core.scan import Scan
from medview.demo import make_ct
from medview.models.engine import Engine

BATCH = 4
OVERLAP = 0.25
TARGET_RATIO = 1.0
REFERENCE = (
    "plain MONAI script: ScaleIntensityRange, Spacing(scale_extent=True), sliding_window_inference, "
    "argmax, ResampleToMatch(nearest); same network weights, patch, overlap, batch"
)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--shape", type=int, nargs=3, default=(160, 256, 256), help="CT grid (z y x)")
    parser.add_argument("--threads", type=int, default=torch.get_num_threads(), help="torch threads, both")
    parser.add_argument("--device", default=None, help="default: cuda, then mps, then cpu")
    parser.add_argument("--amp", action="store_true", help="float16 autocast on CUDA, both sides")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    engine = Engine.create(args.device, sw_batch_size=BATCH, overlap=OVERLAP, amp=args.amp)
    scan = make_ct(0, tuple(args.shape)).scan
    plugin = CTUNet3D(engine)
    script = MonaiScript(engine.device, args.amp and engine.device.type == "cuda")

    def through_medview() -> np.ndarray:
        return plugin.predict(scan).label_map.array

    ours, theirs = through_medview(), script(scan)  # warm up both (weights, allocator, kernels)
    times = best_times(
        {"medview": through_medview, "monai": lambda: script(scan)}, args.repeats, engine.device
    )
    same = ours == theirs
    foreground = (ours != 0) | (theirs != 0)
    ratio = times["monai"] / times["medview"]
    emit(
        "sliding_window_3d_unet",
        "seconds to segment one CT: preprocessing, sliding-window inference, postprocessing",
        unit="s",
        medview=round(times["medview"], 3),
        reference=REFERENCE,
        reference_value=round(times["monai"], 3),
        threads={"medview": torch.get_num_threads(), "reference": torch.get_num_threads()},
        cores=len(available_cores()),
        ratio=ratio,
        ratio_definition="reference_s / medview_s (speedup)",
        target=f"ratio >= {TARGET_RATIO:g}",
        meets_target=ratio >= TARGET_RATIO,
        label_agreement=round(float(same.mean()), 4),
        foreground_label_agreement=round(float(same[foreground].mean()), 4),
        model=INFO.name,
        shape=list(scan.spatial_shape),
        spacing_mm=[round(s, 4) for s in scan.spacing],
        model_spacing_mm=[round(s, 4) for s in SPACING_MM],
        patch=list(PATCH),
        overlap=OVERLAP,
        sw_batch_size=BATCH,
        device=str(engine.device),
        amp=engine.uses_amp,
        repeats=args.repeats,
    )


class MonaiScript:
    """A user's own MONAI inference for the CT U-Net, with nothing from medview but the weights file."""

    def __init__(self, device: torch.device, amp: bool) -> None:
        network = build_network()
        network.load_state_dict(load_file(str(CTUNet3D.weights_path)))
        self.network = network.to(device).eval()
        self.device, self.amp = device, amp
        low, high = INFO.input.normalisation.low, INFO.input.normalisation.high
        self.preprocess = Compose(
            [
                ScaleIntensityRange(low, high, 0.0, 1.0, clip=True),
                Spacing(pixdim=SPACING_MM, mode="bilinear", scale_extent=True),
            ]
        )
        self.back = ResampleToMatch(mode="nearest")

    def __call__(self, scan: Scan) -> np.ndarray:
        affine = torch.tensor(scan.geometry.affine, dtype=torch.float64)
        image = MetaTensor(torch.from_numpy(np.array(scan.array, dtype=np.float32))[None], affine=affine)
        model_grid = self.preprocess(image)
        with torch.inference_mode(), torch.autocast("cuda", torch.float16, enabled=self.amp):
            logits = sliding_window_inference(
                model_grid.as_tensor()[None].to(self.device),
                PATCH,
                BATCH,
                self.network,
                overlap=OVERLAP,
                mode="gaussian",
            )
            labels = torch.argmax(logits[0].float().cpu(), dim=0, keepdim=True).float()
        labels = self.back(MetaTensor(labels.clone(), affine=model_grid.affine), img_dst=image)
        return np.asarray(labels[0]).astype(np.uint8)


def best_times(functions: dict[str, Callable[[], object]], repeats: int, device: torch.device) -> dict:
    """Fastest of ``repeats`` interleaved runs of each function (seconds), synchronising CUDA around each."""
    times: dict[str, list[float]] = {name: [] for name in functions}
    for _ in range(repeats):
        for name, function in functions.items():
            if device.type == "cuda":
                torch.cuda.synchronize()
            started = time.perf_counter()
            function()
            if device.type == "cuda":
                torch.cuda.synchronize()
            times[name].append(time.perf_counter() - started)
    return {name: min(values) for name, values in times.items()}


if __name__ == "__main__":
    main()
