"""``medview workspace init|add|list``: create a workspace, add scans to it, list its cases."""

from __future__ import annotations

import argparse
import json

NAME = "workspace"
HELP = "create a workspace, add scans (with existing annotations) to it, list its cases"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    verbs = parser.add_subparsers(dest="action", required=True, metavar="{init,add,list}")
    init = verbs.add_parser("init", help="make DIR a new workspace")
    init.add_argument("directory", metavar="DIR")
    add = verbs.add_parser("add", help="copy scans (files or DICOM folders) into the workspace as cases")
    add.add_argument("directory", metavar="DIR")
    add.add_argument("paths", metavar="PATH", nargs="+")
    add.add_argument(
        "--labels", metavar="LABELMAP", help="an existing annotation of the (single) scan; must fit it"
    )
    listing = verbs.add_parser("list", help="list the cases and their status")
    listing.add_argument("directory", metavar="DIR")
    listing.add_argument("--json", action="store_true", help="print one JSON array of case objects")


def run(args: argparse.Namespace) -> int:
    from medview.core.errors import InputError
    from medview.workspace import Workspace

    if args.action == "init":
        Workspace.create(args.directory).close()
        print(f"created workspace {args.directory}")
        return 0
    with Workspace.open(args.directory) as workspace:
        if args.action == "add":
            if args.labels is not None and len(args.paths) != 1:
                raise InputError("--labels annotates one scan; give exactly one PATH with it")
            for path in args.paths:
                case = workspace.add_case(path, labels=args.labels)
                print(f"added {case.id} ({case.status})")
            return 0
        cases = [
            {
                "id": case.id,
                "path": str(case.path),
                "status": case.status,
                "annotations": [version.to_dict() for version in workspace.annotations(case.id)],
            }
            for case in workspace.cases()
        ]
    if args.json:
        print(json.dumps(cases, indent=2))
    else:
        for case in cases:
            print(f"{case['id']:<30} {case['status']:<12} {len(case['annotations'])} annotation versions")
    return 0
