"""Builders shared by the training, CLI and GUI training tests: a tiny plugin folder and a small workspace.

``tests/cli`` and ``tests/qt`` import this module by path (their conftest files belong to others).
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import torch
from medview_plugins.patch_classifier.data import patches
from medview_plugins.patch_classifier.plugin import INFO as CLASSIFIER

from medview.core.provenance import Provenance
from medview.demo import make_ct, make_radiograph
from medview.io import write_label_map, write_scan
from medview.models.registry import Registry
from medview.models.weights import save_weights
from medview.training import versions
from medview.workspace import Workspace

TINY_MODEL = "tiny-ct"
TINY_SHAPE = (24, 40, 40)
CASE_SEEDS = (1, 2, 3)
RADIOGRAPH_SHAPE = (192, 192)


def make_plugin_folder(folder: Path) -> Path:
    """A plugin folder with ``tiny_plugin.py`` (model ``tiny-ct``) and its initial weights beside it."""
    folder.mkdir(parents=True)
    shutil.copy(Path(__file__).with_name("tiny_plugin.py"), folder / "tiny_plugin.py")
    plugin = Registry.discover([folder]).get(TINY_MODEL)
    save_weights(plugin.build_network(), plugin.weights_path)
    return folder


def make_workspace(directory: Path, seeds: tuple[int, ...] = CASE_SEEDS) -> Path:
    """A workspace with annotated (``done``) cases of the shifted demo CT domain, one per seed."""
    sources = directory.with_name(directory.name + "-sources")
    with Workspace.create(directory) as workspace:
        for seed in seeds:
            case = make_ct(seed, TINY_SHAPE, domain="shifted")
            scan_path, labels_path = sources / f"case{seed}.nii.gz", sources / f"case{seed}-labels.nii.gz"
            write_scan(case.scan, scan_path)
            write_label_map(case.truth, labels_path)
            workspace.add_case(scan_path, labels=labels_path)
    return directory


def make_box_workspace(directory: Path, seeds: tuple[int, ...] = (1, 2, 3, 4)) -> Path:
    """A workspace of small demo radiographs (``done``), each with its true nodule boxes."""
    sources = directory.with_name(directory.name + "-sources")
    with Workspace.create(directory) as workspace:
        for seed in seeds:
            demo = make_radiograph(seed, RADIOGRAPH_SHAPE)
            case = workspace.add_case(write_scan(demo.scan, sources / f"radiograph{seed}.nii.gz"))
            workspace.save_boxes(case.id, demo.boxes, demo.box_labels, Provenance("demo"))
            workspace.set_status(case.id, "done")
    return directory


def make_class_workspace(directory: Path) -> Path:
    """A workspace of 8 demo radiograph patches (``done``), half with a nodule, each with its class."""
    sources = directory.with_name(directory.name + "-sources")
    scans, classes = patches((0,), per_image=8)
    with Workspace.create(directory) as workspace:
        for scan, index in zip(scans, classes, strict=True):
            case = workspace.add_case(write_scan(scan, sources / f"{scan.name}.nii.gz"))
            workspace.save_class(
                case.id, CLASSIFIER.labels[int(index) + 1].name, CLASSIFIER.labels, Provenance.drawn()
            )
            workspace.set_status(case.id, "done")
    return directory


def make_fine_tuned_version(workspace: Path, plugin_folder: Path, version: str = "0.1.0+ft1") -> Path:
    """Publish ``version`` of ``tiny-ct`` in the workspace's versions layout without training: the
    plugin's weights, shifted, so it predicts differently. Returns the version folder."""
    network = Registry.discover([plugin_folder]).get(TINY_MODEL).build_network()
    with torch.no_grad():
        for parameter in network.parameters():
            parameter.add_(0.05)
    folder = workspace / versions.MODELS / TINY_MODEL / version
    folder.mkdir(parents=True)
    save_weights(network, folder / versions.WEIGHTS)
    card = {"model": TINY_MODEL, "version": version, "base_version": version.split(versions.FINE_TUNED)[0]}
    (folder / versions.MODEL_CARD).write_text(json.dumps(card))
    return folder
