"""How the window's panels talk to each other: the metrics tables open cases, a version the Train
panel publishes appears in the Models and Metrics panels, and Start saves the open case first."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from medview.qt.app import MainWindow


def connect_metrics_to_cases(window: MainWindow) -> None:
    """A click on a case in the metrics panel's workspace table opens that case."""
    metrics, browser = window.panels.get("Metrics"), window.panels.get("Cases")
    if metrics is None or browser is None:
        return

    def open_case(case_id: str) -> None:
        from medview.workspace import Workspace

        if browser.directory is None or browser.task_bar.busy:
            return
        with Workspace.open(browser.directory) as workspace:
            browser.open_case(workspace.case(case_id))

    metrics.cases.case_requested.connect(open_case)
    metrics.versions.case_requested.connect(open_case)


def connect_training_to_models(window: MainWindow) -> None:
    """A version the training panel publishes is listed in the model panel at once, and the metrics
    panel compares it with its base on the run's validation cases (its tab raised to show it). An
    annotation saved into the training workspace is listed among the cases to train on, and Start
    saves the open case's unsaved edits first, so what the user sees is what trains."""
    models, training = window.panels.get("Models"), window.panels.get("Train")
    metrics = window.panels.get("Metrics")
    if training is None:
        return
    if models is not None:
        training.version_published.connect(lambda model, version: models.set_workspace(training.workspace))
    annotate = window.panels.get("Annotate")
    if annotate is not None:
        waiting_to_start: list[bool] = []

        def save_open_case_first() -> bool:
            unsaved = annotate.unsaved_case()
            if unsaved is None or training.workspace != Path(unsaved[0]) or annotate.task_bar.busy:
                return False
            waiting_to_start.append(True)
            annotate.save()
            return True

        def list_saved_case(workspace: str, case_id: str) -> None:
            if training.workspace is not None and Path(workspace) == training.workspace:
                training.refresh_cases()  # a case in progress now trains on its annotated slices
            if waiting_to_start:
                waiting_to_start.clear()
                training.start()

        def save_ended(outcome: str) -> None:
            if outcome != "done":
                waiting_to_start.clear()  # a failed save must not start a run later

        training.before_start = save_open_case_first
        annotate.saved_to_workspace.connect(list_saved_case)
        annotate.task_bar.finished.connect(save_ended)
    if metrics is not None:

        def compare(model: str, version: str) -> None:
            window.raise_panel(metrics)
            metrics.compare_versions(training.workspace, model, version)

        training.version_published.connect(compare)
