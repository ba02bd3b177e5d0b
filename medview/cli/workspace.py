"""``medview workspace init|add|list|class|test-cases``: create a workspace, add scans to it, list its
cases, give a case its class (the annotation classification models fine-tune on), and show or change
the test cases that judge fine-tuned versions."""

from __future__ import annotations

import argparse
import json

NAME = "workspace"
GREY = (128, 128, 128)  # the colour of classes named with --classes
HELP = "create a workspace, add scans (with annotations), list cases, set a case's class, choose test cases"
KINDS = ("labels", "boxes", "class")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    verbs = parser.add_subparsers(dest="action", required=True, metavar="{init,add,list,class,test-cases}")
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
    klass = verbs.add_parser("class", help="store the class of a whole case and mark the case done")
    klass.add_argument("directory", metavar="DIR")
    klass.add_argument("case", metavar="CASE", help="case id (see 'medview workspace list')")
    klass.add_argument("class_name", metavar="CLASS_NAME")
    classes = klass.add_mutually_exclusive_group(required=True)
    classes.add_argument("--model", metavar="NAME", help="the classes of this classification model")
    classes.add_argument("--classes", metavar="NAME", nargs="+", help="the classes, in order")
    test = verbs.add_parser(
        "test-cases",
        help="show the test cases (never trained on; they judge fine-tuned versions), or set them",
    )
    test.add_argument("directory", metavar="DIR")
    test.add_argument(
        "--kind", choices=KINDS, default="labels", help="models learning from which annotations (labels)"
    )
    change = test.add_mutually_exclusive_group()
    change.add_argument("--set", nargs="+", metavar="CASE", help="make these cases the test cases")
    change.add_argument("--none", action="store_true", help="no test cases: verdicts on validation only")
    change.add_argument("--forget", action="store_true", help="forget them: the next run chooses anew")


def run(args: argparse.Namespace) -> int:
    from medview.core.errors import InputError
    from medview.workspace import Workspace

    if args.action == "init":
        Workspace.create(args.directory).close()
        print(f"created workspace {args.directory}")
        return 0
    with Workspace.open(args.directory) as workspace:
        if args.action == "class":
            return _set_class(workspace, args)
        if args.action == "test-cases":
            return _test_cases(workspace, args)
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


def _test_cases(workspace, args: argparse.Namespace) -> int:
    """Print the test cases of ``--kind`` after applying ``--set``, ``--none`` or ``--forget``."""
    if args.set is not None or args.none or args.forget:
        workspace.set_test_cases(args.kind, list(args.set or []) if not args.forget else None)
    chosen = workspace.test_cases(args.kind)
    if chosen is None:
        print(f"no test cases chosen yet for {args.kind}: the next run sets aside a fifth of the cases")
    elif not chosen:
        print(f"no test cases for {args.kind}: fine-tuned versions are judged on validation cases only")
    else:
        print(f"test cases for {args.kind} ({len(chosen)}): {' '.join(chosen)}")
    return 0


def _set_class(workspace, args: argparse.Namespace) -> int:
    """Store the case's class as a new ``class`` version by the user; a class annotates the whole case,
    so the case is done."""
    from medview.core.errors import InputError
    from medview.core.labels import LabelClass, LabelTable
    from medview.core.provenance import Provenance

    if args.model is not None:
        from medview.models.registry import Registry

        info = Registry.discover().get(args.model).info
        if info.task != "classification":
            raise InputError(f"model {args.model!r} is a {info.task} model; a case class needs a classifier")
        labels = info.labels
    else:
        try:
            labels = LabelTable([LabelClass(i + 1, name, GREY) for i, name in enumerate(args.classes)])
        except ValueError as error:
            raise InputError(f"--classes: {error}") from error
    version = workspace.save_class(args.case, args.class_name, labels, Provenance.drawn())
    workspace.set_status(args.case, "done")
    print(f"{args.case}: class {args.class_name!r} (version {version.version}); case done")
    return 0
