"""Fine-tune the bundled CT U-Net on the demo's shifted domain and judge it on test cases it never saw.

The workspace is ``medview demo --workspace``'s with 17 shifted-domain demo CTs (contrast-enhanced
liver, hyperdense lesions, more noise) at the network's grid and no radiographs. 10 are recorded as
the workspace's test cases before training (enough for the paired bootstrap interval, see
``medview.metrics.paired``); of the other 7, 2 validate (they choose the best epoch) and 5 train.
Prints one JSON line: test Dice of the bundled version (the reference) and of the new version, both
predicted through the plugin and scored as ``medview compare`` scores them, the paired difference
with its interval and verdict, per-class changes, and the validation figures for contrast (biased
upwards: they chose the checkpoint).

Run: ``nice .venv/bin/python benchmarks/bench_finetune.py [--minutes 3]`` (needs the bundled weights:
``python -m medview_plugins.ct_unet3d.train``).
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import torch
from measurement import emit

from medview.training.config import TrainingConfig
from medview.training.runner import train_in_workspace
from medview.workspace import Workspace
from medview.workspace.demo_workspace import make_demo_workspace

MODEL = "ct-unet3d"
CASES = 17
TEST_CASES = 10
THREADS = 2


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=float, default=3.0)
    args = parser.parse_args()
    torch.set_num_threads(THREADS)
    with tempfile.TemporaryDirectory() as folder:
        workspace = make_demo_workspace(Path(folder) / "workspace", cases=CASES, radiographs=0)
        with Workspace.open(workspace) as opened:
            ids = [case.id for case in opened.cases()]
            opened.set_test_cases("labels", ids[-TEST_CASES:])
        config = TrainingConfig(
            MODEL,
            epochs=None,
            minutes=args.minutes,
            device="cpu",
            validation_fraction=2 / (CASES - TEST_CASES),
            learning_rate=1e-3,
            batch_size=1,
            samples_per_case=4,
        )
        started = time.perf_counter()
        outcome = train_in_workspace(workspace, config)
        seconds = time.perf_counter() - started
    result, test = outcome.result, outcome.test
    overall = test.overall
    emit(
        "finetune_shifted_ct",
        "test_dice",
        unit="mean Dice over test cases",
        medview=round(overall.new.value, 4),
        reference=f"{MODEL} {test.old_version} (the bundled version) on the same test cases",
        reference_value=round(overall.old.value, 4),
        threads={"medview": THREADS, "reference": THREADS},
        ratio=overall.new.value / max(overall.old.value, 1e-9),
        ratio_definition="new version's test Dice / bundled version's test Dice",
        version=outcome.version,
        cases={"training": len(result.training_cases), "validation": len(result.validation_cases)}
        | {"test": len(test.case_ids)},
        difference={
            "value": round(overall.difference.value, 4),
            "interval": [round(overall.difference.low, 4), round(overall.difference.high, 4)]
            if overall.has_interval
            else None,
            "method": overall.method,
            "verdict": overall.verdict,
            "better_on": f"{overall.wins} of {overall.scored} test cases",
        },
        by_class={
            name: {
                "before": round(c.old.value, 3),
                "after": round(c.new.value, 3),
                "verdict": c.verdict,
                "worse_beyond_noise": c.clearly_worse,
            }
            for name, c in test.by_class.items()
        },
        validation_dice={
            "before": round(result.metrics_before["dice"], 4),
            "after": round(result.metrics_after["dice"], 4),
            "note": "these cases chose the checkpoint",
        },
        epochs=result.epochs,
        stop_reason=result.stop_reason,
        training_seconds=round(result.seconds, 1),
        wall_seconds=round(seconds, 1),
        budget_minutes=args.minutes,
    )


if __name__ == "__main__":
    main()
