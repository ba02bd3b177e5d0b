"""Sliding-window inference of the bundled 3-D U-Net: medview's engine vs MONAI called directly.

Both run the same network with the same windows (32 x 64 x 64, overlap 0.25, Gaussian blending,
4 windows per batch) on a 1 x 1 x 128 x 256 x 256 volume under ``torch.inference_mode``. Prints one
JSON line with both times and the throughput ratio (MONAI time / medview time; target >= 1.0). On
CUDA it also times medview in float32 and with mixed precision.

Run: ``nice .venv/bin/python benchmarks/bench_sliding_window.py [--repeats 2]``.
"""

from __future__ import annotations

import argparse
import json
import time

import torch
from medview_plugins.ct_unet3d.plugin import PATCH, CTUNet3D
from monai.inferers import sliding_window_inference

from medview.models.engine import Engine

SHAPE = (1, 1, 128, 256, 256)
BATCH = 4
OVERLAP = 0.25


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--device", default=None, help="default: cuda, then mps, then cpu")
    args = parser.parse_args()
    engine = Engine.create(args.device, sw_batch_size=BATCH, overlap=OVERLAP, amp=False)
    network = CTUNet3D().network.to(engine.device).eval()
    volume = torch.rand(SHAPE, generator=torch.Generator().manual_seed(0))

    def through_monai() -> torch.Tensor:
        with torch.inference_mode():
            output = sliding_window_inference(
                volume.to(engine.device), PATCH, BATCH, network, overlap=OVERLAP, mode="gaussian"
            )
        return output.float().cpu()

    def through_medview(amp: bool = False) -> torch.Tensor:
        engine.amp = amp
        return engine.logits(network, volume, PATCH)

    through_medview()  # warm up both paths (allocator, kernels)
    through_monai()
    monai_s = best_time(through_monai, args.repeats, engine.device)
    medview_s = best_time(through_medview, args.repeats, engine.device)
    result = {
        "benchmark": "sliding_window_3d_unet",
        "shape": list(SHAPE),
        "device": str(engine.device),
        "threads": torch.get_num_threads(),
        "reference": "monai.inferers.sliding_window_inference on the same network",
        "monai_s": round(monai_s, 3),
        "medview_s": round(medview_s, 3),
        "ratio": round(monai_s / medview_s, 3),
        "target": ">= 1.0",
    }
    if engine.device.type == "cuda":
        amp_s = best_time(lambda: through_medview(amp=True), args.repeats, engine.device)
        result.update(
            {
                "fp32_s": round(medview_s, 3),
                "amp_s": round(amp_s, 3),
                "amp_speedup": round(medview_s / amp_s, 3),
            }
        )
    print(json.dumps(result))


def best_time(function, repeats: int, device: torch.device) -> float:
    """Fastest of ``repeats`` runs (seconds), synchronising CUDA around each."""
    times = []
    for _ in range(repeats):
        if device.type == "cuda":
            torch.cuda.synchronize()
        started = time.perf_counter()
        function()
        if device.type == "cuda":
            torch.cuda.synchronize()
        times.append(time.perf_counter() - started)
    return min(times)


if __name__ == "__main__":
    main()
