"""``medview compare --workspace DIR --model NAME [--version V] [--against V] [--cases ID ...] [--json]``.

Runs two versions of a model on the same workspace cases and prints whether the newer one is better:
by default the newest fine-tuned version against the version it was fine-tuned from, on the
workspace's test cases (never trained on, never used to choose the checkpoint). The primary metric is
Dice (segmentation), F1 (detection) or accuracy (classification), scored as training validation
scores it; the mean difference carries a paired bootstrap 95% interval from 10 cases on, and below
that the per-case differences with no verdict. JSON keys: ``model, old_version, new_version,
case_set`` (``test``, ``validation`` or ``chosen``), ``scored_cases, metric, old, new, difference``
(each ``{value, low, high}``), ``wins, losses, ties, scored, improved, worsened, verdict, method,
minimum_for_interval, cases`` (per case ``old, new, difference``), ``by_class``, ``worse_classes``
and ``verdict_text``.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from medview.core.json_safe import finite

NAME = "compare"
HELP = "compare two versions of a model on a workspace's cases (default: newest fine-tune vs its base)"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--workspace", required=True, metavar="DIR", type=Path, help="the workspace folder")
    parser.add_argument("--model", required=True, help="model plugin name, e.g. ct-unet3d")
    parser.add_argument("--version", metavar="V", help="fine-tuned version to judge (default: the newest)")
    parser.add_argument("--against", metavar="V", help="version to compare with (default: its base)")
    parser.add_argument(
        "--cases", nargs="+", metavar="ID", help="case ids (default: the workspace's test cases)"
    )
    parser.add_argument("--json", action="store_true", help="print one JSON document on stdout")


def run(args: argparse.Namespace) -> int:
    from medview.training.compare import CASE_WORDS, compare_versions

    result = compare_versions(args.workspace, args.model, args.version, args.against, args.cases)
    document = result.to_dict()
    if args.json:
        print(json.dumps(finite(document)))
        return 0
    words = CASE_WORDS[result.case_set]
    print(f"{result.model} {result.old_version} -> {result.new_version} on {len(result.case_ids)} {words}:")
    for case in result.overall.cases:
        print(
            f"  {case.case}: {result.overall.metric} {case.old:.4f} -> {case.new:.4f} "
            f"({case.difference:+.4f})"
        )
    for name, comparison in result.by_class.items():
        flag = "  got worse beyond its noise" if name in result.worse_classes else ""
        print(
            f"  class {name}: {comparison.old.value:.4f} -> {comparison.new.value:.4f} "
            f"({comparison.difference.value:+.4f}; {comparison.verdict}){flag}"
        )
    print(result.describe())
    return 0
