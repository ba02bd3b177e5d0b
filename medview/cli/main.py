"""Entry point of the ``medview`` command.

``medview [PATH ...] [--demo]`` opens the GUI; ``medview VERB ...`` runs a headless verb. Each verb is
a module of this package that defines ``NAME``, ``HELP``, ``add_arguments(parser)`` and
``run(args) -> int``, so adding a verb touches no other file. Verb modules import their heavy
dependencies inside ``run`` to keep ``medview --help`` fast.
"""

from __future__ import annotations

import argparse
import importlib
import pkgutil
import sys
from collections.abc import Sequence
from types import ModuleType

import medview
from medview.core.errors import MedviewError

EXIT_USAGE = 2
_NOT_VERBS = {"main", "gui"}


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the process exit status."""
    argv = list(sys.argv[1:] if argv is None else argv)
    verbs = _discover_verbs()
    if argv and argv[0] in verbs:
        module = verbs[argv[0]]
        parser = argparse.ArgumentParser(prog=f"medview {module.NAME}", description=module.HELP)
        module.add_arguments(parser)
        args = parser.parse_args(argv[1:])
        return _run_reporting_errors(module.run, args)
    from medview.cli import gui

    parser = _gui_parser(verbs)
    args = parser.parse_args(argv)
    return _run_reporting_errors(gui.run, args)


def _discover_verbs() -> dict[str, ModuleType]:
    import medview.cli as package

    verbs = {}
    for info in pkgutil.iter_modules(package.__path__):
        if info.name in _NOT_VERBS or info.name.startswith("_"):
            continue
        module = importlib.import_module(f"medview.cli.{info.name}")
        verbs[module.NAME] = module
    return verbs


def _gui_parser(verbs: dict[str, ModuleType]) -> argparse.ArgumentParser:
    from medview.cli import gui

    lines = [f"  {name:<10} {module.HELP}" for name, module in sorted(verbs.items())]
    parser = argparse.ArgumentParser(
        prog="medview",
        description="Open the medview window, or run a headless verb.",
        epilog="verbs (medview VERB --help for each):\n" + "\n".join(lines),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"medview {medview.__version__}")
    gui.add_arguments(parser)
    return parser


def _run_reporting_errors(run, args: argparse.Namespace) -> int:
    try:
        return int(run(args) or 0)
    except MedviewError as error:
        print(f"medview: error: {error}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        print("medview: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
