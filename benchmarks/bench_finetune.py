"""Fine-tune the bundled CT U-Net on 5 annotated cases of the demo's shifted domain for 3 minutes.

The workspace is ``medview demo --workspace``'s with 7 shifted-domain demo CTs (contrast-enhanced
liver, hyperdense lesions, more noise) at the network's grid and no radiographs; 5 train and 2
validate (split by case). Prints one JSON line: mean validation Dice over the classes before (the
bundled version) and after (the new version), and the time; ``compare_through_plugin`` is
``medview compare`` on the same validation cases (both versions run through the plugin, as a user
would).

Run: ``nice .venv/bin/python benchmarks/bench_finetune.py [--minutes 3]`` (needs the bundled weights:
``python -m medview_plugins.ct_unet3d.train``).
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

import torch

from medview.training.compare import compare_versions
from medview.training.config import TrainingConfig
from medview.training.runner import train_in_workspace
from medview.workspace.demo_workspace import make_demo_workspace

MODEL = "ct-unet3d"
CASES = 7


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=float, default=3.0)
    args = parser.parse_args()
    torch.set_num_threads(2)
    with tempfile.TemporaryDirectory() as folder:
        workspace = make_demo_workspace(Path(folder) / "workspace", cases=CASES, radiographs=0)
        config = TrainingConfig(
            MODEL,
            epochs=None,
            minutes=args.minutes,
            device="cpu",
            validation_fraction=2 / CASES,
            learning_rate=1e-3,
            batch_size=1,
            samples_per_case=4,
        )
        started = time.perf_counter()
        outcome = train_in_workspace(workspace, config)
        seconds = time.perf_counter() - started
        compared = compare_versions(workspace, MODEL, outcome.version).overall
    result = outcome.result
    print(
        json.dumps(
            {
                "benchmark": "finetune_shifted_ct",
                "model": MODEL,
                "version": outcome.version,
                "training_cases": len(result.training_cases),
                "validation_cases": len(result.validation_cases),
                "dice_before": round(result.metrics_before["dice"], 4),
                "dice_after": round(result.metrics_after["dice"], 4),
                "reference": round(result.metrics_before["dice"], 4),
                "ratio": round(result.metrics_after["dice"] / max(result.metrics_before["dice"], 1e-9), 3),
                "dice_by_class_before": _rounded(result.metrics_before),
                "dice_by_class_after": _rounded(result.metrics_after),
                "epochs": result.epochs,
                "stop_reason": result.stop_reason,
                "training_seconds": round(result.seconds, 1),
                "wall_seconds": round(seconds, 1),
                "budget_minutes": args.minutes,
                "compare_through_plugin": {
                    "dice_old": round(compared.old.value, 4),
                    "dice_new": round(compared.new.value, 4),
                    "difference": round(compared.difference.value, 4),
                    "difference_95ci": [
                        round(compared.difference.low, 4),
                        round(compared.difference.high, 4),
                    ],
                    "better_on": f"{compared.wins} of {compared.scored} cases",
                },
            }
        )
    )


def _rounded(metrics: dict[str, float]) -> dict[str, float]:
    return {key[5:]: round(value, 3) for key, value in metrics.items() if key.startswith("dice_")}


if __name__ == "__main__":
    main()
