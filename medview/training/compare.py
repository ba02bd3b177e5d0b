"""Is the fine-tuned version better? Run two versions of a model on the same workspace cases and compare.

By default the new version is compared with the version it was fine-tuned from, on the validation
cases of the run that made it (recorded in its model card), so the comparison uses cases the new
version never trained on. Each version predicts each case through its plugin, exactly as the model
panel would; the prediction is scored against the case's newest human annotation (never against
another prediction), and :func:`medview.metrics.paired.compare_paired` gives the paired difference
with its bootstrap interval.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from medview.annotations.nifti import load_nifti
from medview.core.errors import InputError
from medview.core.progress import CancelToken, ProgressCallback, no_progress
from medview.core.scan import Scan
from medview.io import open_scan, read_boxes
from medview.metrics.detection import match_boxes
from medview.metrics.paired import PairedComparison, compare_paired
from medview.metrics.segmentation import compute_dice
from medview.models.api import ModelPlugin, Prediction
from medview.models.network_plugin import NetworkPlugin
from medview.models.registry import Registry
from medview.training import versions
from medview.training.objectives.segmentation import case_from_annotation
from medview.training.runner import version_plugin
from medview.workspace import Workspace, read_class

PREDICTED = "model"
DETECTION_IOU = 0.3
DETECTION_SCORE = 0.5
PRIMARY_METRIC = {"segmentation": "dice", "detection": "f1", "classification": "accuracy"}


@dataclass(frozen=True)
class VersionComparison:
    """Two versions of one model on the same cases: the primary metric, and per class for segmentation."""

    model: str
    old_version: str
    new_version: str
    overall: PairedComparison
    by_class: dict[str, PairedComparison] = field(default_factory=dict)

    def to_dict(self) -> dict:
        return {
            "model": self.model,
            "old_version": self.old_version,
            "new_version": self.new_version,
            **self.overall.to_dict(),
            "by_class": {name: comparison.to_dict() for name, comparison in self.by_class.items()},
        }


def compare_versions(
    workspace_dir: str | Path,
    model: str,
    version: str | None = None,
    against: str | None = None,
    cases: Sequence[str] | None = None,
    registry: Registry | None = None,
    progress: ProgressCallback = no_progress,
    cancel: CancelToken | None = None,
) -> VersionComparison:
    """Score ``version`` and ``against`` of ``model`` on ``cases`` of the workspace.

    Args:
        version: a fine-tuned version; by default the newest.
        against: the version to compare with (the plugin's own or another fine-tuned one); by default
            the one ``version`` was fine-tuned from.
        cases: workspace case ids; by default the validation cases of the run that made ``version``.
    """
    Workspace.open(workspace_dir).close()  # not a workspace: say so before looking for versions in it
    plugin = (registry or Registry.discover()).get(model)
    new = _published(workspace_dir, model, version)
    card = new.card
    against = against or card.get("base_version") or plugin.info.version
    if cases is None:
        cases = list(card.get("data", {}).get("validation", {}))
        if not cases:
            raise InputError(
                f"version {new.version} records no validation cases: name the cases to compare on"
            )
    old_plugin = _runnable(plugin, workspace_dir, against)
    new_plugin = _runnable(plugin, workspace_dir, new.version)
    score = _SCORERS.get(plugin.info.task)
    if score is None:
        raise InputError(f"model {model!r} ({plugin.info.task}) has no comparison of versions")
    rows: list[tuple[str, dict[str, float], dict[str, float]]] = []
    with Workspace.open(workspace_dir) as workspace:
        for index, case_id in enumerate(cases):
            if cancel is not None:
                cancel.raise_if_cancelled()
            progress(index / len(cases), f"Comparing versions on {case_id} ({index + 1}/{len(cases)})")
            case = workspace.case(case_id)
            scan = open_scan(case.path)
            scan.name = case_id
            scores = [
                score(workspace, case_id, scan, p.predict(scan, cancel=cancel))
                for p in (old_plugin, new_plugin)
            ]
            rows.append((case_id, *scores))
    progress(1.0, "Versions compared")
    return _summarise(model, against, new.version, plugin.info.task, rows)


def _published(workspace_dir: str | Path, model: str, version: str | None) -> versions.ModelVersion:
    if version is not None:
        return versions.find_version(workspace_dir, model, version)
    published = versions.list_versions(workspace_dir, model)
    if not published:
        raise InputError(f"model {model!r} has no fine-tuned version in this workspace", workspace_dir)
    return published[-1]


def _runnable(plugin: ModelPlugin, workspace_dir: str | Path, version: str) -> ModelPlugin:
    """The plugin itself for its own version, else the plugin running a fine-tuned version's weights."""
    if version == plugin.info.version:
        return plugin
    if not isinstance(plugin, NetworkPlugin):
        raise InputError(f"model {plugin.info.name!r} has no fine-tuned versions")
    return version_plugin(plugin, versions.find_version(workspace_dir, plugin.info.name, version))


def _summarise(
    model: str, old: str, new: str, task: str, rows: list[tuple[str, dict[str, float], dict[str, float]]]
) -> VersionComparison:
    metric = PRIMARY_METRIC[task]
    ids = [case for case, _, _ in rows]

    def paired(key: str) -> PairedComparison:
        nan = float("nan")
        return compare_paired(
            ids, [o.get(key, nan) for _, o, _ in rows], [n.get(key, nan) for _, _, n in rows], key
        )

    class_keys = sorted({key for _, o, n in rows for key in (*o, *n) if key.startswith(f"{metric}_")})
    by_class = {key[len(metric) + 1 :]: paired(key) for key in class_keys}
    return VersionComparison(model, old, new, paired(metric), by_class)


# ------------------------------------------------------------------------------ scoring one case
CaseScorer = Callable[[Workspace, str, Scan, Prediction], dict[str, float]]


def _score_segmentation(
    workspace: Workspace, case_id: str, scan: Scan, prediction: Prediction
) -> dict[str, float]:
    """Dice of each model class the annotation holds (absent classes are undefined), and their mean."""
    truth_map = load_nifti(_annotation(workspace, case_id, "labels"), scan)
    labels = prediction.info.labels
    truth = case_from_annotation(scan, truth_map, labels).label  # the model's values, matched by name
    predicted = np.asarray(prediction.label_map.array)
    scores = {
        f"dice_{label.name}": compute_dice(predicted == label.value, truth == label.value)
        for label in labels
        if np.any(truth == label.value)
    }
    mean = float(np.mean(list(scores.values()))) if scores else float("nan")
    return {"dice": mean} | scores


def _score_detection(
    workspace: Workspace, case_id: str, scan: Scan, prediction: Prediction
) -> dict[str, float]:
    """F1 of the boxes scoring at least 0.5, a hit overlapping an unmatched true box at IoU >= 0.3."""
    box_set = read_boxes(_annotation(workspace, case_id, "boxes"))
    by_name = {label.name: label.value for label in prediction.info.labels}
    truth = [
        type(box)(by_name.get(box_set.labels.name_of(box.label), box.label), box.score, box.start, box.stop)
        for box in box_set.boxes
    ]
    kept = [box for box in prediction.boxes or [] if box.score >= DETECTION_SCORE]
    hits = int(np.count_nonzero(match_boxes(kept, truth, DETECTION_IOU) >= 0))
    wrong = len(kept) + len(truth)
    return {"f1": 1.0 if wrong == 0 else 2 * hits / wrong}


def _score_classification(
    workspace: Workspace, case_id: str, scan: Scan, prediction: Prediction
) -> dict[str, float]:
    """1 when the most probable class is the annotated one, else 0 (their mean is the accuracy)."""
    truth = read_class(_annotation(workspace, case_id, "class"))
    names = prediction.class_names
    if truth not in names:
        raise InputError(f"case {case_id!r} is annotated {truth!r}, not a class of {prediction.info.name!r}")
    return {"accuracy": float(names[int(np.argmax(prediction.probabilities))] == truth)}


_SCORERS: dict[str, CaseScorer] = {
    "segmentation": _score_segmentation,
    "detection": _score_detection,
    "classification": _score_classification,
}


def _annotation(workspace: Workspace, case_id: str, kind: str) -> Path:
    """The newest human (not predicted) annotation of ``kind``; comparing with a prediction proves nothing."""
    human = [v for v in workspace.annotations(case_id, kind) if v.provenance.source != PREDICTED]
    if not human:
        raise InputError(f"case {case_id!r} has no {kind} annotation to compare the versions against")
    return human[-1].path
