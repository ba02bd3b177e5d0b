"""The workspace's test cases: the cases that judge a fine-tuned version and never train or choose it.

A run splits its cases three ways, by whole case: *test* cases are set aside first, *validation* cases
(early stopping and the best epoch) are drawn from the rest, and the remainder trains. Validation
scores are biased upwards (they chose the checkpoint), so "did it get better?" is answered on the test
cases only. The test cases are chosen once per workspace and kind of annotation (label maps, boxes,
case classes), recorded in the workspace index and reused by every later run, until the user changes
them (``medview workspace test-cases``); a case recorded as a test case is never trained on, even
after its annotation changes.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np

from medview.training.dataset import TrainingCase
from medview.workspace import Workspace

TEST_FRACTION = 0.2
"""Share of the complete cases set aside as test cases when a workspace has none recorded."""
MIN_CASES_FOR_TEST = 3
"""A test set needs at least this many complete cases: one to test, one to validate, one to train."""
SEED = 0
"""The choice depends on the workspace's cases only, not on a run's seed: it is made once."""


def workspace_test_cases(
    workspace_dir: str | Path, kind: str, cases: Sequence[TrainingCase], fraction: float = TEST_FRACTION
) -> list[str]:
    """The workspace's test cases for ``kind``: the recorded ones, else a new choice, recorded.

    A new choice takes ``fraction`` of the complete ``cases`` (at least one), shuffled with a fixed
    seed; none is chosen (and nothing recorded, so a later run chooses) with fewer than
    :data:`MIN_CASES_FOR_TEST` complete cases or ``fraction`` 0. Partial cases are never test cases.
    """
    with Workspace.open(workspace_dir) as workspace:
        recorded = workspace.test_cases(kind)
        if recorded is not None:
            return recorded
        complete = sorted(case.name for case in cases if not case.partial)
        if fraction <= 0 or len(complete) < MIN_CASES_FOR_TEST:
            return []
        count = min(len(complete) - 2, max(1, round(fraction * len(complete))))
        order = np.random.default_rng(SEED).permutation(len(complete))
        chosen = sorted(complete[i] for i in order[:count])
        workspace.set_test_cases(kind, chosen)
        return chosen


def without_test_cases(cases: Sequence[TrainingCase], test_ids: Sequence[str]) -> list[TrainingCase]:
    """The cases a run may train and validate on."""
    held = set(test_ids)
    return [case for case in cases if case.name not in held]
