"""``medview [PATH] [--demo [KIND]]``: open the main window (not a verb: the default action)."""

from __future__ import annotations

import argparse

from medview.core.errors import InputError

DEMO_KINDS = {"ct": "Demo CT (phantom)", "radiograph": "Demo chest radiograph", "tile": "Demo H&E tile"}


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("path", nargs="?", help="a scan file or folder to open")
    parser.add_argument(
        "--demo",
        nargs="?",
        const="ct",
        choices=sorted(DEMO_KINDS),
        help="open a demo case (default: ct)",
    )


def run(args: argparse.Namespace) -> int:
    """Start Qt, show the window, open what was asked, and run the event loop."""
    from pathlib import Path

    if args.path is not None and not Path(args.path).exists():
        raise InputError("no such file or folder", args.path)
    from napari.qt import get_qapp

    from medview.qt.app import MainWindow

    app = get_qapp()
    window = MainWindow()
    window.show()
    window.offer_drafts_at_start()  # a draft left by a crash is offered before anything else opens
    if window.task_bar.busy:  # recovering a draft: its scan is opening
        pass
    elif args.path is not None:
        window.open_path(args.path)
    elif args.demo is not None:
        window.open_demo(DEMO_KINDS[args.demo])
    return app.exec()
