"""The (case, prediction, truth) pairs of a workspace, for :func:`medview.metrics.evaluate_cases`.

In a workspace every labels version carries its provenance: a version made by a model
(``source == "model"``) is a prediction; one drawn, corrected or imported by a person is an
annotation. A case counts when it has both.
"""

from __future__ import annotations

from medview.annotations.nifti import load_nifti
from medview.core.scan import LabelMap
from medview.workspace import AnnotationVersion, Workspace

PREDICTED = "model"


def workspace_pairs(
    workspace: Workspace, model_version: str | None = None
) -> list[tuple[str, LabelMap, LabelMap]]:
    """``(case id, newest prediction, newest annotation)`` for every case that has both.

    Args:
        workspace: an open workspace.
        model_version: only predictions of this model version; by default the newest of any.
    """
    pairs = []
    for case in workspace.cases():
        versions = workspace.annotations(case.id, "labels")
        predictions = [v for v in versions if _is_prediction(v, model_version)]
        annotations = [v for v in versions if v.provenance.source != PREDICTED]
        if predictions and annotations:
            pairs.append((case.id, load_nifti(predictions[-1].path), load_nifti(annotations[-1].path)))
    return pairs


def _is_prediction(version: AnnotationVersion, model_version: str | None) -> bool:
    provenance = version.provenance
    return provenance.source == PREDICTED and model_version in (None, provenance.model_version)
