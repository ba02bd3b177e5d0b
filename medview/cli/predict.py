"""``medview predict PATH --model NAME_OR_FILE -o OUT``: run a model on a scan, headless.

Segmentation writes a label map with the scan's geometry (NIfTI, NRRD or MHA; PNG or TIFF for a 2D
map; with its ``.labels.json`` sidecar), detection a medview boxes JSON, classification a JSON of
class probabilities. An output name that does not fit the model's task, or a format that cannot hold
the result (a 3D map in a PNG), is refused before the model runs (:mod:`medview.io.format_capacity`).
``--model`` is a plugin name (see ``medview models``), a TorchScript file with a JSON sidecar, or a
MONAI bundle folder. ``--workspace DIR --version V`` runs a version fine-tuned in that workspace
(``medview train``) instead of the plugin's own weights, e.g. ``--model ct-unet3d --version 1.0.0+ft1``.

Before running, the scan is checked against what the model was trained on
(:func:`medview.models.api.input_concerns`); a concern stops the run with one line unless settled:
``--any-modality`` runs on a modality the model was not trained on, and ``--assume-spacing MM`` gives
a scan without a pixel size (PNG, JPEG, DICOM without PixelSpacing) one, in the model's unit (mm,
or µm for slide models), noted in the output. A TorchScript model runs code stored in its file, so
it is loaded only with ``--trust`` (see docs/security.md).
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

NAME = "predict"
_OUTPUTS = {"segmentation": "label map", "detection": "boxes", "classification": "probabilities"}
HELP = "run a model on a scan; write a label map (NIfTI, NRRD, MHA, PNG, TIFF), boxes or probabilities (JSON)"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("path", type=Path, help="scan file or DICOM folder")
    parser.add_argument(
        "--model", required=True, metavar="NAME_OR_FILE", help="plugin name or TorchScript file"
    )
    parser.add_argument(
        "-o",
        "--output",
        required=True,
        type=Path,
        help="output file: a label map (.nii.gz, .nrrd, .mha; .png or .tif for 2D) for segmentation, "
        ".json for detection and classification",
    )
    parser.add_argument("--device", choices=("cpu", "cuda", "mps"), help="default: cuda, then mps, then cpu")
    parser.add_argument("--series", metavar="UID", help="the DICOM series to use (default: the largest)")
    parser.add_argument("--level", type=int, default=0, help="whole-slide pyramid level to segment at")
    parser.add_argument("--plugins", metavar="DIR", type=Path, action="append", help="extra plugin folder")
    parser.add_argument("--workspace", metavar="DIR", type=Path, help="workspace holding --version")
    parser.add_argument("--version", metavar="V", help="a fine-tuned version of --model, e.g. 1.0.0+ft1")
    parser.add_argument(
        "--assume-spacing",
        metavar="MM",
        help="pixel size to assume for a scan that gives none: one number, or one per axis in array "
        "order (z,y,x), comma-separated; in the model's unit (mm, or um for slide models)",
    )
    parser.add_argument(
        "--any-modality",
        action="store_true",
        help="run even though the scan's modality is not one the model was trained on",
    )
    parser.add_argument(
        "--trust",
        action="store_true",
        help="load the TorchScript model named by --model: it runs code stored in the file, so only "
        "for files from a source you trust",
    )


def run(args: argparse.Namespace) -> int:
    from medview.core.errors import InputError
    from medview.io import open_scan
    from medview.io.format_capacity import check_suffix
    from medview.models.api import format_spacing, parse_spacing, unresolved_concerns
    from medview.models.engine import Engine
    from medview.models.network_plugin import NetworkPlugin, SegmentationPlugin
    from medview.models.registry import Registry, default_folders, predict_safely
    from medview.models.torchscript import TorchScriptPlugin

    if (args.version is None) != (args.workspace is None):
        raise InputError("--version and --workspace go together: a fine-tuned version lives in a workspace")
    check_suffix(args.output, *_OUTPUTS.values())  # a name no prediction can take, before anything loads
    engine = Engine.create(args.device)
    if Path(args.model).exists():
        plugin = TorchScriptPlugin.from_file(args.model)
    else:
        plugin = Registry.discover(default_folders() + (args.plugins or [])).get(args.model)
    check_suffix(args.output, _OUTPUTS[plugin.info.task])
    if isinstance(plugin, TorchScriptPlugin):
        if args.trust:
            plugin.trust()
        plugin.check_trusted()
    if args.version is not None:
        from medview.training.versions import find_version, version_plugin

        plugin = version_plugin(plugin, find_version(args.workspace, plugin.info.name, args.version))
    if isinstance(plugin, NetworkPlugin):
        plugin.engine = engine
    if isinstance(plugin, SegmentationPlugin):
        plugin.level = args.level
    scan = open_scan(args.path, series_uid=args.series)
    _check_output_holds(plugin.info, scan, args.output)
    assumed = None
    if args.assume_spacing is not None:
        if scan.spacing_known:
            raise InputError(
                "--assume-spacing is only for scans without a pixel size; this one gives it "
                f"({format_spacing(scan.spacing, scan.units)})",
                scan.source or args.path,
            )
        assumed = parse_spacing(args.assume_spacing, scan.geometry.ndim)
    concerns = unresolved_concerns(plugin.info, scan, args.any_modality, assumed)
    if plugin.info.takes(scan) and concerns:
        raise InputError("; ".join(map(str, concerns)) + _how_to_settle(concerns), scan.source or args.path)
    prediction = predict_safely(plugin, scan, any_modality=args.any_modality, assumed_spacing=assumed)
    print(_write(prediction, scan.name, args.output))
    return 0


def _check_output_holds(info, scan, output: Path) -> None:
    """Refuse, before the model runs, a label map file that cannot hold its segmentation of ``scan``:
    one label per voxel of the scan's grid, valued 0 to the model's highest label."""
    from medview.io.format_capacity import check_writable

    if info.task == "segmentation":
        check_writable(
            output,
            kind="label map",
            ndim=scan.geometry.ndim,
            dtype="int64",
            value_range=(0, max((label.value for label in info.labels), default=0)),
            shape=scan.spatial_shape,
        )


def _how_to_settle(concerns) -> str:
    kinds = {concern.kind for concern in concerns}
    hints = []
    if "spacing" in kinds:
        hints.append("give --assume-spacing MM to run it at an assumed pixel size")
    if "modality" in kinds:
        hints.append("add --any-modality to run it anyway")
    return ". To proceed, " + " and ".join(hints)


def _write(prediction, scan_name: str, output: Path) -> str:
    from medview.io import write_boxes, write_label_map
    from medview.io.atomic import write_text_atomic

    title = prediction.info.title
    notes = "".join(f"; {note}" for note in prediction.notes)
    if prediction.label_map is not None:
        write_label_map(prediction.label_map, output)
        found = ", ".join(
            prediction.label_map.labels.name_of(v) for v in prediction.label_map.present_values()
        )
        return f"{title}: wrote label map {output} ({found or 'nothing found'})" + notes
    if prediction.boxes is not None:
        write_boxes(prediction.boxes, output, prediction.info.labels, scan_name)
        return f"{title}: wrote {len(prediction.boxes)} boxes to {output}" + notes
    document = {
        "scan": scan_name,
        "model": prediction.info.name,
        "version": prediction.info.version,
        "probabilities": prediction.probabilities_by_class(),
        "provenance": prediction.provenance.to_dict(),
        "notes": prediction.notes,
    }
    write_text_atomic(output, json.dumps(document, indent=2))
    best = max(document["probabilities"].items(), key=lambda item: item[1])
    return f"{title}: {best[0]} ({best[1]:.2f}); wrote {output}" + notes
