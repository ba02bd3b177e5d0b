"""``medview export ANNOTATION --scan SCAN -o OUT [--format FMT]``: an annotation in another format.

ANNOTATION is a label map (NIfTI, NRRD or MHA with its ``.labels.json``; it must lie on the scan's
grid), a DICOM SEG of the scan, or a medview box file (``.json``, for COCO). The format follows
OUT's name unless ``--format`` says it (``.dcm`` is a DICOM SEG; ``--format rtstruct`` for an
RTSTRUCT). A DICOM SEG or RTSTRUCT of a scan that is not DICOM needs ``--dicom-copy DIR``, a new
or empty folder where a DICOM copy of the scan is written for it to reference. One line per file
written; when the export is refused, one line saying why and nothing written.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from medview.core.boxes import Box
    from medview.core.labels import LabelTable
    from medview.core.scan import LabelMap, Scan

NAME = "export"
HELP = "write an annotation as NIfTI, 3D Slicer NRRD, DICOM SEG, RTSTRUCT, COCO or GeoJSON"
_FORMATS = ("nifti", "nrrd", "seg", "rtstruct", "coco", "geojson")  # export.FORMATS, kept light here


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("annotation", type=Path, help="label map file, DICOM SEG or medview box JSON")
    parser.add_argument("--scan", type=Path, required=True, help="the scan file or DICOM folder it annotates")
    parser.add_argument("--series", metavar="UID", help="the DICOM series of the scan (default: the largest)")
    parser.add_argument("--format", choices=_FORMATS, help="output format (default: from OUT's name)")
    parser.add_argument("-o", "--output", type=Path, required=True, metavar="OUT", help="file to write")
    parser.add_argument(
        "--seg-type",
        choices=("labelmap", "binary"),
        default="binary",
        help="DICOM SEG encoding: one bit plane per segment (default; what most DICOM viewers read) or "
        "one label per voxel (the newer label-map SEG)",
    )
    parser.add_argument(
        "--dicom-copy",
        type=Path,
        metavar="DIR",
        help="new or empty folder for a DICOM copy of a scan that is not DICOM",
    )


def run(args: argparse.Namespace) -> int:
    from medview.annotations.export import export_annotation, format_from_path
    from medview.io import open_scan

    fmt = args.format or format_from_path(args.output)
    scan = open_scan(args.scan, series_uid=args.series)
    label_map, boxes, box_labels = _read_annotation(args.annotation, scan)
    written = export_annotation(
        fmt,
        args.output,
        scan,
        label_map,
        boxes,
        box_labels,
        seg_type=args.seg_type,
        dicom_copy=args.dicom_copy,
    )
    for path in written:
        print(f"wrote {path}")
    return 0


def _read_annotation(path: Path, scan: Scan) -> tuple[LabelMap | None, list[Box] | None, LabelTable | None]:
    """``(label map, boxes, box labels)`` from a label map file, a DICOM SEG or a medview box file."""
    from medview.annotations.nifti import load_nifti
    from medview.annotations.seg import read_dicom_seg
    from medview.io.dicom_seg import is_dicom_seg
    from medview.io.open import read_boxes

    if path.name.lower().endswith(".json"):
        box_set = read_boxes(path)
        return None, box_set.boxes, box_set.labels
    if is_dicom_seg(path):
        return read_dicom_seg(path, scan), None, None
    return load_nifti(path, scan), None, None
