"""Is the fine-tuned version better? Run two versions of a model on the same workspace cases and compare.

By default the new version is compared with the version it was fine-tuned from on the workspace's
*test* cases (recorded in its model card; :mod:`medview.training.splits`), which never trained it and
never chose its checkpoint. A version made before test cases existed is compared on its validation
cases, and the verdict says that those chose the checkpoint. Each version predicts each case through
its plugin, exactly as the model panel would, and is scored on the scan's grid by the objective the
model trains with (:meth:`~medview.training.objectives.Objective.score`, i.e.
:mod:`medview.metrics.case_scores`) against the case's newest human annotation; training validation
scores the same way, so one version on one set of cases has one score everywhere.
:func:`medview.metrics.paired.compare_paired` gives the paired difference, and its interval only when
there are enough cases for one.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from medview.core.errors import InputError
from medview.core.progress import CancelToken, ProgressCallback, no_progress
from medview.metrics.case_scores import public
from medview.metrics.paired import PairedComparison, compare_paired
from medview.models.api import ModelPlugin
from medview.models.network_plugin import NetworkPlugin
from medview.models.registry import Registry
from medview.training import versions
from medview.training.dataset import TrainingCase
from medview.training.objectives import Objective, objective_for
from medview.training.objectives.base import case_as_scan
from medview.workspace import Workspace

CASE_WORDS = {"test": "test cases", "validation": "validation cases", "chosen": "cases"}
VALIDATION_CAVEAT = (
    "these validation cases chose the checkpoint, so the new version's score is biased upwards"
)


@dataclass(frozen=True)
class VersionComparison:
    """Two versions of one model on the same cases: the primary metric, and per class for segmentation.

    ``case_set`` says which cases were scored: ``test`` (the workspace's test cases), ``validation``
    (a version's validation cases: they chose its checkpoint) or ``chosen`` (named by the user).
    """

    model: str
    old_version: str
    new_version: str
    overall: PairedComparison
    by_class: dict[str, PairedComparison] = field(default_factory=dict)
    case_set: str = "chosen"

    @property
    def case_ids(self) -> list[str]:
        return [case.case for case in self.overall.cases]

    @property
    def worse_classes(self) -> list[str]:
        """Classes that got worse beyond their case-to-case noise (:attr:`PairedComparison.clearly_worse`)."""
        return [name for name, comparison in self.by_class.items() if comparison.clearly_worse]

    def scores(self, which: str) -> dict[str, float]:
        """The ``old`` or ``new`` version's mean scores: the primary metric and ``<metric>_<class>``."""
        pick = {"old": lambda c: c.old.value, "new": lambda c: c.new.value}[which]
        metric = self.overall.metric
        return {metric: pick(self.overall)} | {
            f"{metric}_{name}": pick(c) for name, c in self.by_class.items()
        }

    def describe(self) -> str:
        """The verdict for people, naming the cases it rests on and any class that got worse."""
        words = CASE_WORDS[self.case_set]
        text = f"{self.model} {self.old_version} -> {self.new_version} on {len(self.case_ids)} {words}: "
        text += self.overall.describe(words)
        for name in self.worse_classes:
            comparison = self.by_class[name]
            how = "on every case" if not comparison.has_interval else "beyond its interval"
            text += f"; {name} got worse ({comparison.difference.value:+.4f}, {how})"
        if self.case_set == "validation":
            text += f" ({VALIDATION_CAVEAT})"
        return text

    def to_dict(self) -> dict:
        return {
            "model": self.model,
            "old_version": self.old_version,
            "new_version": self.new_version,
            "case_set": self.case_set,
            "scored_cases": self.case_ids,
            **self.overall.to_dict(),
            "by_class": {name: comparison.to_dict() for name, comparison in self.by_class.items()},
            "worse_classes": self.worse_classes,
            "verdict_text": self.describe(),
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
        cases: workspace case ids; by default the test cases recorded in ``version``'s card (else the
            workspace's test cases, else, for a version made before test cases, its validation cases).
    """
    Workspace.open(workspace_dir).close()  # not a workspace: say so before looking for versions in it
    plugin = (registry or Registry.discover()).get(model)
    objective = objective_for(plugin)
    new = _published(workspace_dir, model, version)
    card = new.card
    against = against or card.get("base_version") or plugin.info.version
    case_set = "chosen"
    if cases is None:
        case_set, cases = _default_cases(workspace_dir, card, objective)
    old_plugin = _runnable(plugin, workspace_dir, against)
    new_plugin = _runnable(plugin, workspace_dir, new.version)
    scored = objective.cases(workspace_dir, plugin, list(cases))
    return compare_plugins(old_plugin, new_plugin, objective, scored, case_set, progress, cancel)


def compare_plugins(
    old: ModelPlugin,
    new: ModelPlugin,
    objective: Objective,
    cases: Sequence[TrainingCase],
    case_set: str,
    progress: ProgressCallback = no_progress,
    cancel: CancelToken | None = None,
) -> VersionComparison:
    """Both plugins predict each (complete) case; the objective scores both; the paired comparison."""
    partial = [case.name for case in cases if case.partial]
    if partial:
        raise InputError(f"cases annotated on some slices only cannot judge a version: {', '.join(partial)}")
    if not cases:
        raise InputError("no annotated case to compare the versions on")
    rows: list[tuple[str, dict[str, float], dict[str, float]]] = []
    for index, case in enumerate(cases):
        if cancel is not None:
            cancel.raise_if_cancelled()
        progress(index / len(cases), f"Comparing versions on {case.name} ({index + 1}/{len(cases)})")
        scan = case_as_scan(case)
        scores = [public(objective.score(plugin.predict(scan, cancel=cancel), case)) for plugin in (old, new)]
        rows.append((case.name, *scores))
    progress(1.0, "Versions compared")
    return _summarise(new.info.name, old.info.version, new.info.version, objective.metric, rows, case_set)


def _default_cases(workspace_dir: str | Path, card: dict, objective: Objective) -> tuple[str, list[str]]:
    data = card.get("data", {})
    if data.get("test"):
        return "test", list(data["test"])
    with Workspace.open(workspace_dir) as workspace:
        recorded = workspace.test_cases(objective.annotation_kind)
    if recorded:
        return "test", recorded
    validation = list(data.get("validation", {}))
    if not validation:
        raise InputError("this version records no test or validation cases: name the cases to compare on")
    return "validation", validation


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
    return versions.version_plugin(plugin, versions.find_version(workspace_dir, plugin.info.name, version))


def renamed(comparison: VersionComparison, new_version: str) -> VersionComparison:
    """The comparison with the new version's published name (a run compares before it publishes)."""
    return dataclasses.replace(comparison, new_version=new_version)


def _summarise(
    model: str,
    old: str,
    new: str,
    metric: str,
    rows: list[tuple[str, dict[str, float], dict[str, float]]],
    case_set: str,
) -> VersionComparison:
    ids = [case for case, _, _ in rows]

    def paired(key: str) -> PairedComparison:
        nan = float("nan")
        return compare_paired(
            ids, [o.get(key, nan) for _, o, _ in rows], [n.get(key, nan) for _, _, n in rows], key
        )

    class_keys = sorted({key for _, o, n in rows for key in (*o, *n) if key.startswith(f"{metric}_")})
    by_class = {key[len(metric) + 1 :]: paired(key) for key in class_keys}
    return VersionComparison(model, old, new, paired(metric), by_class, case_set)
