"""``medview snapshot PATH [--overlay LABELS] [--slice K] -o OUT.png``: render a scan to a PNG, headless."""

from __future__ import annotations

import argparse
from pathlib import Path

NAME = "snapshot"
HELP = "render the middle slice of a scan (with an optional label overlay) to a PNG"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("path", type=Path, help="scan file or folder")
    parser.add_argument("--overlay", type=Path, help="label map to draw over the scan")
    parser.add_argument("--slice", type=int, help="slice index along the first axis (default: middle)")
    parser.add_argument("--series", help="series UID, for a folder with several DICOM series")
    parser.add_argument("-o", "--output", required=True, type=Path, help="PNG file to write")


def run(args: argparse.Namespace) -> int:
    import io

    from PIL import Image

    from medview.core.errors import InputError
    from medview.io import open_label_map, open_scan
    from medview.io.atomic import write_bytes_atomic
    from medview.render import render_slice

    if args.output.suffix.lower() != ".png":
        raise InputError("the output must be a .png file", args.output)
    scan = open_scan(args.path, series_uid=args.series)
    overlay = open_label_map(args.overlay, like=scan) if args.overlay else None
    try:
        pixels = render_slice(scan, overlay, index=args.slice)
    except ValueError as error:
        raise InputError(str(error), args.path) from error
    buffer = io.BytesIO()
    Image.fromarray(pixels).save(buffer, format="PNG")
    write_bytes_atomic(args.output, buffer.getvalue())
    print(args.output)
    return 0
