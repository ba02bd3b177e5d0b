"""``medview demo --out DIR [--cases N] [--seed S]``: write demo cases to disk as ordinary files.

``medview demo --workspace DIR [--cases N] [--radiographs M]`` instead makes a workspace of N
(default 15) annotated demo CTs of the "new site" domain, ready for ``medview train --model
ct-unet3d``, and M (default 15) radiographs with their nodule boxes, for ``--model nodule-detector``.

Files layout: ``DIR/ct/<name>_image.nii.gz`` with ``<name>_truth.nii.gz`` (+ ``.labels.json``),
``DIR/radiograph/<name>_image.dcm`` (DICOM DX with its PixelSpacing) with ``<name>_boxes.json``,
``DIR/tile/<name>_image.tif`` (pyramidal OME-TIFF calibrated in µm) with ``<name>_truth.png``.
Each reopens with the geometry it was made with, so models give the same results from disk.
"""

from __future__ import annotations

import argparse
from pathlib import Path

NAME = "demo"
HELP = "write procedurally generated demo cases (CT, radiograph, H&E tile) with ground truth"
_IMAGE_SUFFIX = {"ct": ".nii.gz", "radiograph": ".dcm", "tile": ".tif"}
_TRUTH_SUFFIX = {"ct": ".nii.gz", "tile": ".png"}


def add_arguments(parser: argparse.ArgumentParser) -> None:
    target = parser.add_mutually_exclusive_group(required=True)
    target.add_argument("--out", type=Path, help="folder to write files into (created if needed)")
    target.add_argument("--workspace", type=Path, help="new folder: a workspace of annotated demo CTs")
    parser.add_argument("--cases", type=int, help="cases of each kind (default 1; 15 for --workspace)")
    parser.add_argument("--seed", type=int, help="seed; the same seed gives the same cases")
    parser.add_argument(
        "--radiographs", type=int, help="with --workspace: radiographs with boxes (default 15)"
    )


def run(args: argparse.Namespace) -> int:
    if args.workspace is not None:
        from medview.workspace.demo_workspace import (
            DEMO_CASES,
            DEMO_RADIOGRAPHS,
            FIRST_SEED,
            make_demo_workspace,
        )

        folder = make_demo_workspace(
            args.workspace,
            DEMO_CASES if args.cases is None else args.cases,
            FIRST_SEED if args.seed is None else args.seed,
            DEMO_RADIOGRAPHS if args.radiographs is None else args.radiographs,
        )
        print(f"demo workspace: {folder}")
        return 0
    return _write_files(args.out, 1 if args.cases is None else args.cases, args.seed or 0)


def _write_files(out: Path, count: int, seed: int) -> int:
    from medview.core.errors import InputError
    from medview.demo import demo_cases
    from medview.io import write_boxes, write_label_map, write_scan

    if count < 1:
        raise InputError(f"--cases must be at least 1, got {count}")
    if out.exists() and not out.is_dir():
        raise InputError("exists and is not a folder", out)
    for case in demo_cases(count, seed):
        folder = out / case.kind
        image_path = write_scan(case.scan, folder / f"{case.name}_image{_IMAGE_SUFFIX[case.kind]}")
        if case.truth is not None:
            write_label_map(case.truth, folder / f"{case.name}_truth{_TRUTH_SUFFIX[case.kind]}")
        if case.kind == "radiograph":
            write_boxes(case.boxes, folder / f"{case.name}_boxes.json", case.box_labels, image_path.name)
        print(image_path)
    return 0
