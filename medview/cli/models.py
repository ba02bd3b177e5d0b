"""``medview models [--json]``: the installed model plugins, and the broken ones with their errors.

TorchScript models from plugin folders are listed from their sidecar alone (never loaded); each is
marked as needing trust, because its file runs code (``medview predict --trust``, docs/security.md).
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

NAME = "models"
HELP = "list the installed model plugins (name, version, task, modalities) and any broken ones"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--json", action="store_true", help="print one JSON document instead of a table")
    parser.add_argument(
        "--plugins",
        metavar="DIR",
        type=Path,
        action="append",
        help="also look in this plugin folder (repeatable; default: $MEDVIEW_PLUGIN_PATH)",
    )


def run(args: argparse.Namespace) -> int:
    from medview.models.registry import Registry, default_folders
    from medview.models.torchscript import TorchScriptPlugin

    registry = Registry.discover(default_folders() + (args.plugins or []))
    untrusted = {
        plugin.info.name: plugin.model_path
        for plugin in registry.plugins
        if isinstance(plugin, TorchScriptPlugin) and plugin.requires_trust
    }
    if args.json:
        models = [
            {**plugin.info.to_dict(), "needs_trust": plugin.info.name in untrusted}
            for plugin in registry.plugins
        ]
        print(json.dumps({"models": models, "broken": [broken.to_dict() for broken in registry.broken]}))
        return 0
    rows = [("NAME", "VERSION", "TASK", "MODALITIES")] + [
        (p.info.name, p.info.version, p.info.task, ",".join(p.info.modalities)) for p in registry.plugins
    ]
    widths = [max(len(row[i]) for row in rows) for i in range(4)]
    for row in rows:
        print("  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip())
    for name, path in untrusted.items():
        print(
            f"needs trust: {name} ({path}): a TorchScript file runs code stored in it; "
            f"run it with `medview predict --model {name} --trust` only if you trust its source"
        )
    for broken in registry.broken:
        print(f"broken: {broken.name} ({broken.source}): {broken.error}")
    return 0
