"""What fine-tuning optimises and measures, by task: segmentation, detection and classification.

A plugin makes itself fine-tunable by returning an :class:`Objective` from ``training_objective()``;
segmentation plugins that do not get :class:`SegmentationObjective` (see :func:`objective_for`).
"""

from __future__ import annotations

from medview.core.errors import InputError
from medview.models.api import ModelPlugin
from medview.models.network_plugin import NetworkPlugin, SegmentationPlugin
from medview.training.objectives.base import CaseChoice, Objective, ScoreRow
from medview.training.objectives.classification import ClassificationObjective
from medview.training.objectives.detection import DetectionObjective
from medview.training.objectives.segmentation import SegmentationObjective

__all__ = [
    "CaseChoice",
    "ClassificationObjective",
    "DetectionObjective",
    "Objective",
    "ScoreRow",
    "SegmentationObjective",
    "objective_for",
]


def objective_for(plugin: ModelPlugin) -> Objective:
    """The objective ``plugin`` fine-tunes with: its own ``training_objective()``, or Dice-CE for a
    segmentation network; an :class:`InputError` says why any other plugin cannot be fine-tuned."""
    name, task = plugin.info.name, plugin.info.task
    if not isinstance(plugin, NetworkPlugin):
        raise InputError(f"model {name!r} cannot be fine-tuned: it is not a PyTorch network with weights")
    objective = plugin.training_objective()
    if objective is None and isinstance(plugin, SegmentationPlugin) and task == "segmentation":
        return SegmentationObjective()
    if objective is None:
        raise InputError(
            f"model {name!r} cannot be fine-tuned: its plugin declares no training objective "
            f"(a {task} plugin needs training_objective())"
        )
    if not isinstance(objective, Objective):
        raise InputError(
            f"model {name!r} cannot be fine-tuned: its training_objective() returned "
            f"{type(objective).__name__}, not a medview.training.objectives.Objective"
        )
    return objective
