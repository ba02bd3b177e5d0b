"""A ready-made workspace to try fine-tuning on: annotated demo CTs from a "new site", and radiographs.

The CTs are the demo's shifted-domain CTs (contrast-enhanced liver, hyperdense lesions, more noise
than the bundled CT U-Net was trained on) at the network's own grid, each with its ground truth
stored as a finished annotation. Fine-tuning the bundled model on them measurably helps, which is
what a first-time user of the training panel should see. The radiographs (at the nodule detector's
1.6 mm grid) come with their nodule boxes, so the detector can be fine-tuned too.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

from medview.core.errors import InputError
from medview.core.progress import CancelToken, ProgressCallback, no_progress
from medview.core.provenance import Provenance
from medview.demo import make_ct, make_radiograph
from medview.io import write_label_map, write_scan
from medview.workspace.workspace import Workspace

DEMO_CT_SHAPE = (64, 96, 96)
"""The bundled CT U-Net's own grid (5 mm slices, 2.1 mm pixels): cases train in seconds per epoch."""
FIRST_SEED = 300
DEMO_CASES = 15
"""Enough that the default 20% validation share holds out 3 whole cases: a paired comparison needs them."""
DEMO_RADIOGRAPHS = 15
DEMO_RADIOGRAPH_SHAPE = (256, 256)
"""The nodule detector's own grid (1.6 mm pixels)."""


def make_demo_workspace(
    directory: str | Path,
    cases: int = DEMO_CASES,
    seed: int = FIRST_SEED,
    radiographs: int = DEMO_RADIOGRAPHS,
    progress: ProgressCallback = no_progress,
    cancel: CancelToken | None = None,
) -> Path:
    """Create a workspace at ``directory`` (new or empty) holding ``cases`` annotated shifted-domain CTs
    and ``radiographs`` demo radiographs with their nodule boxes, all marked done."""
    directory = Path(directory)
    if cases < 2:
        raise InputError(f"a demo workspace needs at least 2 cases (one validates), got {cases}")
    if directory.exists() and not directory.is_dir():
        raise InputError("exists and is not a folder", directory)
    if directory.exists() and any(directory.iterdir()):
        raise InputError("is not empty: choose a new or empty folder for the demo workspace", directory)
    with Workspace.create(directory) as workspace, tempfile.TemporaryDirectory() as sources:
        total = cases + radiographs
        for index in range(total):
            if cancel is not None:
                cancel.raise_if_cancelled()
            progress(index / total, f"Demo case {index + 1} of {total}")
            if index < cases:
                case = make_ct(seed + index, DEMO_CT_SHAPE, domain="shifted")
                name = f"site-b-ct{index + 1:02d}"
                scan_path = write_scan(case.scan, Path(sources) / f"{name}.nii.gz")
                labels_path = write_label_map(case.truth, Path(sources) / f"{name}-labels.nii.gz")
                workspace.add_case(scan_path, labels=labels_path)
                continue
            number = index - cases + 1
            case = make_radiograph(seed + index, DEMO_RADIOGRAPH_SHAPE)
            added = workspace.add_case(write_scan(case.scan, Path(sources) / f"chest-xr{number:02d}.nii.gz"))
            workspace.save_boxes(added.id, case.boxes, case.box_labels, Provenance("demo"))
            workspace.set_status(added.id, "done")
    progress(1.0, f"Demo workspace with {cases} annotated CTs and {radiographs} radiographs")
    return directory
