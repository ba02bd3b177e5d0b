"""``medview train``: fine-tune a model on a workspace's annotated cases and publish a new version."""

from __future__ import annotations

import argparse

NAME = "train"
HELP = "fine-tune a model on a workspace's annotated cases; prints the new version and its validation score"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    from medview.training.command import add_arguments as add_training_arguments

    add_training_arguments(parser)


def run(args: argparse.Namespace) -> int:
    from medview.training.command import run as run_training

    return run_training(args)
