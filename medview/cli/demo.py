"""``medview demo --out DIR [--cases N] [--seed S]``: write demo cases to disk as ordinary files.

Layout: ``DIR/ct/<name>_image.nii.gz`` with ``<name>_truth.nii.gz`` (+ ``.labels.json``),
``DIR/radiograph/<name>_image.tif`` with ``<name>_boxes.json``, ``DIR/tile/<name>_image.png`` with
``<name>_truth.png``.
"""

from __future__ import annotations

import argparse
from pathlib import Path

NAME = "demo"
HELP = "write procedurally generated demo cases (CT, radiograph, H&E tile) with ground truth"
_IMAGE_SUFFIX = {"ct": ".nii.gz", "radiograph": ".tif", "tile": ".png"}


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--out", required=True, type=Path, help="folder to write into (created if needed)")
    parser.add_argument("--cases", type=int, default=1, help="cases of each kind (default 1)")
    parser.add_argument("--seed", type=int, default=0, help="seed; the same seed gives the same cases")


def run(args: argparse.Namespace) -> int:
    from medview.core.errors import InputError
    from medview.demo import demo_cases
    from medview.io import write_boxes, write_label_map, write_scan

    if args.cases < 1:
        raise InputError(f"--cases must be at least 1, got {args.cases}")
    if args.out.exists() and not args.out.is_dir():
        raise InputError("exists and is not a folder", args.out)
    for case in demo_cases(args.cases, args.seed):
        folder = args.out / case.kind
        image_path = write_scan(case.scan, folder / f"{case.name}_image{_IMAGE_SUFFIX[case.kind]}")
        if case.truth is not None:
            write_label_map(case.truth, folder / f"{case.name}_truth{_IMAGE_SUFFIX[case.kind]}")
        if case.kind == "radiograph":
            write_boxes(case.boxes, folder / f"{case.name}_boxes.json", case.box_labels, image_path.name)
        print(image_path)
    return 0
