"""``medview compare --workspace DIR --model NAME [--version V] [--against V] [--cases ID ...] [--json]``.

Runs two versions of a model on the same workspace cases and prints whether the newer one is better:
by default the newest fine-tuned version against the version it was fine-tuned from, on the
validation cases of its training run. The primary metric is Dice (segmentation), F1 (detection) or
accuracy (classification); the mean difference carries a paired bootstrap 95% interval. JSON keys:
``model, old_version, new_version, metric, old, new, difference`` (each ``{value, low, high}``),
``wins, losses, ties, improved, worsened, cases`` (per case ``old, new, difference``) and ``by_class``.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from medview.cli._json import finite

NAME = "compare"
HELP = "compare two versions of a model on a workspace's cases (default: newest fine-tune vs its base)"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--workspace", required=True, metavar="DIR", type=Path, help="the workspace folder")
    parser.add_argument("--model", required=True, help="model plugin name, e.g. ct-unet3d")
    parser.add_argument("--version", metavar="V", help="fine-tuned version to judge (default: the newest)")
    parser.add_argument("--against", metavar="V", help="version to compare with (default: its base)")
    parser.add_argument(
        "--cases", nargs="+", metavar="ID", help="case ids (default: the run's validation cases)"
    )
    parser.add_argument("--json", action="store_true", help="print one JSON document on stdout")


def run(args: argparse.Namespace) -> int:
    from medview.training.compare import compare_versions

    result = compare_versions(args.workspace, args.model, args.version, args.against, args.cases)
    document = result.to_dict()
    if args.json:
        print(json.dumps(finite(document)))
        return 0
    print(f"{result.model} {result.old_version} -> {result.new_version} on {len(result.overall.cases)} cases")
    for case in result.overall.cases:
        print(
            f"  {case.case}: {result.overall.metric} {case.old:.4f} -> {case.new:.4f} "
            f"({case.difference:+.4f})"
        )
    print(result.overall.describe())
    return 0
