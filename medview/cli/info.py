"""``medview info PATH [--series UID] [--json]``: what a scan file or DICOM folder holds.

Shape, spacing and origin are in array order (``(z, y, x)``, ``(y, x)`` for 2D, a trailing channel for
RGB); ``direction`` has one column per array axis. ``units`` is ``mm``, ``um`` (slides) or ``pixel``
when the file states no pixel size (the spacing of 1 is then no measurement); ``value_unit`` is the
unit of the pixel values (``HU``...), empty when the file names none. For a slide, ``shape`` and
``spacing`` are the full-resolution level's and ``levels`` lists the pyramid.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

NAME = "info"
HELP = "print shape, dtype, spacing, origin, direction, modality and the series of a scan"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("path", type=Path, help="scan file or DICOM folder")
    parser.add_argument("--series", metavar="UID", help="the DICOM series to describe (default: the largest)")
    parser.add_argument("--json", action="store_true", help="print one JSON document instead of text")


def run(args: argparse.Namespace) -> int:
    from medview.io import open_scan

    scan = open_scan(args.path, series_uid=args.series)
    info = {
        "path": str(args.path),
        "shape": [int(s) for s in scan.array.shape],
        "dtype": str(scan.array.dtype),
        "spacing": list(scan.geometry.spacing),
        "units": scan.units,
        "value_unit": scan.value_unit,
        "origin": list(scan.geometry.origin),
        "direction": scan.geometry.direction.tolist(),
        "modality": scan.modality,
        "rgb": scan.rgb,
        "time_axis": scan.has_time_axis,
        "window": None if scan.window is None else [scan.window.center, scan.window.width, scan.window.name],
        "series": [
            {"uid": s.uid, "description": s.description, "modality": s.modality, "shape": list(s.shape)}
            for s in scan.metadata.get("series", [])
        ],
        "warnings": list(scan.warnings),
    }
    if scan.levels:
        info["levels"] = [[int(s) for s in level.shape] for level in scan.levels]
    if args.json:
        print(json.dumps(info))
    else:
        print(_as_text(info))
    return 0


def _as_text(info: dict) -> str:
    def numbers(values) -> str:
        return "(" + ", ".join(f"{v:g}" for v in values) + ")"

    lines = [
        f"path       {info['path']}",
        f"modality   {info['modality']}",
        f"shape      {tuple(info['shape'])}  {info['dtype']}" + ("  rgb" if info["rgb"] else ""),
        f"spacing    {numbers(info['spacing'])} "
        + ("px (pixel size unknown)" if info["units"] == "pixel" else info["units"]),
        f"origin     {numbers(info['origin'])}",
        f"direction  {', '.join(numbers(row) for row in info['direction'])}",
    ]
    if info["value_unit"]:
        lines.append(f"values     {info['value_unit']}")
    if info["window"]:
        lines.append(
            f"window     {info['window'][2]}: center {info['window'][0]:g}, width {info['window'][1]:g}"
        )
    if "levels" in info:
        lines.append("levels     " + ", ".join("x".join(map(str, level)) for level in info["levels"]))
    for series in info["series"]:
        shape = "x".join(map(str, series["shape"]))
        lines.append(f"series     {series['uid']}  {series['modality']}  {shape}  {series['description']}")
    lines += [f"WARNING    {warning}" for warning in info["warnings"]]
    return "\n".join(lines)
