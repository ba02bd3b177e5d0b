"""The training panel: fine-tune a model on a workspace's annotated cases without freezing the GUI.

The models offered are those with a training objective (segmentation, and plugins such as the
nodule detector and patch classifier that declare one); the cases listed are those the chosen
model's objective can learn from (label maps, boxes or case classes), including, for segmentation,
cases still in progress, which train on their annotated slices only.

Training runs as a subprocess (``python -m medview.training --progress-json``) started with
``QProcess``; the panel reads its JSON lines to move the progress bar, show the time left and plot the
loss and validation metric per epoch. Stop sends SIGTERM: the run stops at its next step, keeps its
checkpoint (Resume continues it) and publishes nothing, so earlier model versions stay usable. The
curves are read back from the run folder when a run resumes or the panel opens on a workspace whose
last run stopped or finished (:mod:`medview.training.run_history`), so nothing vanishes.

The workspace's test cases are never trained on and never choose the checkpoint; the finished run's
summary leads with their scores, and the validation scores (which chose the checkpoint) come second.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from napari.components import ViewerModel
from qtpy.QtCore import QProcess, Qt, Signal
from qtpy.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDoubleSpinBox,
    QFileDialog,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QListWidget,
    QListWidgetItem,
    QProgressBar,
    QPushButton,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from medview.core.errors import MedviewError
from medview.models.registry import Registry
from medview.qt.widgets.annotation_panel import CASE_KEY
from medview.qt.widgets.training_curves import TrainingCurves
from medview.qt.widgets.training_report import (
    TEST_MEANING,
    card_event,
    finished_summary,
    validation_summary,
)
from medview.training import versions
from medview.training.command import metric_title
from medview.training.config import TrainingConfig
from medview.training.objectives import Objective, objective_for
from medview.training.run_history import RunRecord, last_run, read_epochs, read_run
from medview.workspace import Workspace

_PROGRESS_STEPS = 1000
_STOP_WAIT_MS = 15_000
"""How long closing waits for a stopped run to finish its step and exit."""
_PLAIN_TEXT = Qt.ItemDataRole.UserRole + 1
"""A case item's text without the marks of the role it plays (validation, test)."""


class TrainingPanel(QWidget):
    """Model, cases and budget; Start, Stop and Resume; progress with time left; live loss and Dice.

    Signals:
        version_published(str, str): model name and new version, when a run finishes.
    """

    version_published = Signal(str, str)

    def __init__(self, viewer: ViewerModel, parent: QWidget | None = None, registry: Registry | None = None):
        super().__init__(parent)
        self.viewer = viewer
        registry = Registry.discover() if registry is None else registry
        self._process: QProcess | None = None
        self._buffer = b""
        self._run_dir: str | None = None
        self.history: list[dict] = []
        """The run's epoch events, oldest first, one per epoch (those recorded before a Stop too)."""
        self.baseline: float | None = None  # the starting model's validation score
        self._validation_ids: list[str] = []  # the cases the shown run holds out to choose its checkpoint
        self._test_ids: list[str] | None = None  # the workspace's test cases; None: none set aside yet
        self.before_start: Callable[[], bool] | None = None
        """Asked by :meth:`start` first; True means it has deferred the start and will call it again
        (the main window saves the open case's unsaved annotation this way, so it trains too)."""

        self._workspace = QLineEdit()
        self._workspace.setPlaceholderText("workspace folder")
        self._workspace.editingFinished.connect(self._workspace_edited)
        browse = QPushButton("Browse…")
        browse.clicked.connect(self._choose_workspace)
        self._model = QComboBox()
        self._objectives: dict[str, Objective] = {}
        for plugin in registry.plugins:
            try:
                self._objectives[plugin.info.name] = objective_for(plugin)
            except MedviewError:
                continue  # not fine-tunable: not offered
            self._model.addItem(plugin.info.title, plugin.info.name)
        self._model.currentIndexChanged.connect(self._model_changed)
        self._cases = QListWidget()
        self._cases.setToolTip(
            "Annotated cases; ticked ones are split by case into training and validation "
            "(cases in progress only train, on their annotated slices). Test cases judge the result: "
            f"{TEST_MEANING}"
        )
        self._test_cases = QLabel("")
        self._test_cases.setWordWrap(True)
        self._test_cases.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self._test_cases.setToolTip(f"The workspace's test cases: {TEST_MEANING}")
        self._from_scratch = QCheckBox("Start from random weights (train from scratch)")
        self._learning_rate = QDoubleSpinBox()
        self._learning_rate.setDecimals(5)
        self._learning_rate.setRange(1e-5, 1e-1)
        self._learning_rate.setSingleStep(1e-4)
        self._learning_rate.setToolTip(
            "Peak AdamW learning rate; a cosine schedule decays it over the budget"
        )
        self._validation = QSpinBox()
        self._validation.setRange(5, 50)
        self._validation.setSuffix(" % of the non-test cases")
        self._validation.setValue(round(100 * TrainingConfig.validation_fraction))
        self._validation.setToolTip(
            "Whole cases held out to validate on (at least one), drawn after the test cases are set "
            "aside; never trained on, but they choose the checkpoint"
        )
        self._budget = QSpinBox()
        self._budget.setRange(1, 10_000)
        self._budget.setValue(10)
        self._budget_unit = QComboBox()
        self._budget_unit.addItems(["epochs", "minutes"])

        self._start = QPushButton("Start")
        self._start.clicked.connect(self.start)
        self._stop = QPushButton("Stop")
        self._stop.setToolTip("Stop after the current step; the run can be resumed, earlier versions stay")
        self._stop.clicked.connect(self.stop)
        self._resume = QPushButton("Resume")
        self._resume.clicked.connect(self.resume)
        self._bar = QProgressBar()
        self._bar.setRange(0, _PROGRESS_STEPS)
        self._status = QLabel("Choose a workspace with annotated cases")
        self._status.setWordWrap(True)
        self._status.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self._validation_note = QLabel("")  # secondary: validation chose the checkpoint, so it flatters
        self._validation_note.setWordWrap(True)
        self._validation_note.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self._validation_note.setStyleSheet("color: grey")
        self.curves = TrainingCurves(self)
        self._versions = QLabel("")
        self._versions.setWordWrap(True)
        self._layout(browse)
        self._set_running(False)
        viewer.layers.events.inserted.connect(self._workspace_from_layer)
        self._model_changed()

    # what the user sees

    @property
    def status_text(self) -> str:
        return self._status.text()

    @property
    def versions_text(self) -> str:
        return self._versions.text()

    @property
    def test_cases_text(self) -> str:
        return self._test_cases.text()

    @property
    def validation_text(self) -> str:
        """The secondary line of a finished run: its validation scores, which chose the checkpoint."""
        return self._validation_note.text()

    def case_texts(self) -> list[str]:
        """The case list's lines top to bottom, with their marks (validation, test)."""
        return [self._cases.item(row).text() for row in range(self._cases.count())]

    @property
    def workspace(self) -> Path | None:
        """The workspace folder runs train in, if one is chosen."""
        directory = self._workspace.text().strip()
        return Path(directory) if directory else None

    @property
    def running(self) -> bool:
        return self._process is not None

    def set_workspace(self, directory: str | Path) -> None:
        """Train in the workspace at ``directory``; lists its annotated cases and shows the chosen model's
        last run there (its curves; Resume when it stopped)."""
        self._workspace.setText(str(directory))
        self.refresh_cases()
        self._show_last_run()

    def set_budget(self, amount: int, unit: str = "epochs") -> None:
        self._budget.setValue(amount)
        self._budget_unit.setCurrentText(unit)

    def refresh_cases(self) -> None:
        """List the workspace cases the chosen model can learn from; a case the user unticked stays
        unticked, every other one is ticked."""
        unticked = {
            self._cases.item(i).data(Qt.ItemDataRole.UserRole)
            for i in range(self._cases.count())
            if self._cases.item(i).checkState() != Qt.CheckState.Checked
        }
        self._cases.clear()
        directory = self._workspace.text().strip()
        objective = self._objectives.get(self._model.currentData())
        if not directory or objective is None:
            self._show_versions()
            return
        try:
            choices = objective.choices(directory)
        except Exception as error:  # noqa: BLE001 - any failure to read is shown, never raised
            self._status.setText(str(error))
            return
        self._show_test_cases(_recorded_test_cases(directory, objective))
        for choice in choices:
            item = QListWidgetItem(f"{choice.name} ({choice.detail})")
            item.setData(Qt.ItemDataRole.UserRole, choice.case_id)
            item.setData(_PLAIN_TEXT, item.text())
            item.setFlags(item.flags() | Qt.ItemFlag.ItemIsUserCheckable)
            checked = choice.case_id not in unticked
            item.setCheckState(Qt.CheckState.Checked if checked else Qt.CheckState.Unchecked)
            self._cases.addItem(item)
        self._mark_cases()
        self._status.setText(f"{len(choices)} annotated cases")
        self._show_versions()

    def _model_changed(self) -> None:
        """Offer the chosen model's cases, its objective's learning rate and its last run."""
        objective = self._objectives.get(self._model.currentData())
        if objective is not None:
            self._learning_rate.setValue(objective.learning_rate)
        self.refresh_cases()
        self._show_last_run()

    def _workspace_edited(self) -> None:
        self.refresh_cases()
        self._show_last_run()

    # actions

    def start(self) -> None:
        """Start a new run with the chosen model, cases and budget."""
        if self.before_start is not None and self.before_start():
            self._status.setText("Saving the open case's annotation first…")
            return
        cases = [
            self._cases.item(i).data(Qt.ItemDataRole.UserRole)
            for i in range(self._cases.count())
            if self._cases.item(i).checkState() == Qt.CheckState.Checked
        ]
        if self._model.currentData() is None or len(cases) < 2:
            self._status.setText("Choose a model and at least 2 annotated cases (one is kept for validation)")
            return
        budget = ["--epochs", str(self._budget.value())]
        if self._budget_unit.currentText() == "minutes":
            budget = ["--minutes", str(self._budget.value())]
        options = ["--learning-rate", f"{self._learning_rate.value():g}"]
        options += ["--validation-fraction", f"{self._validation.value() / 100:g}"]
        options += ["--from-scratch"] if self._from_scratch.isChecked() else []
        self._launch(["--model", self._model.currentData(), *budget, *options, "--cases", *cases])

    def stop(self) -> None:
        """Ask the run to stop at its next step; it stays resumable and publishes nothing."""
        if self._process is not None:
            self._status.setText("Stopping…")
            self._stop.setEnabled(False)
            self._process.terminate()

    def closeEvent(self, event: Any) -> None:  # noqa: N802 (Qt API)
        """Closing the window stops a run as Stop does (it stays resumable), waiting for it to end."""
        process = self._process
        if process is not None:
            process.terminate()
            if not process.waitForFinished(_STOP_WAIT_MS):
                process.kill()  # the checkpoint of the last finished epoch is still there
                process.waitForFinished(_STOP_WAIT_MS)
        super().closeEvent(event)

    def resume(self) -> None:
        """Continue the last stopped run from its checkpoint; its curves so far stay, new epochs follow."""
        if self._run_dir is not None:
            self._launch(["--resume", self._run_dir], read_epochs(self._run_dir))

    # the subprocess

    def _launch(self, arguments: list[str], history: list[dict] | None = None) -> None:
        """Run training with ``arguments``; ``history`` is what a resumed run recorded before."""
        self.history = list(history or [])
        if not self.history:  # a new run: where the model starts and which cases validate are not known yet
            self.baseline = None
            self._validation_ids = []
            self._mark_cases()
        self._validation_note.setText("")
        self._plot()
        self._buffer = b""
        process = QProcess(self)
        process.setProgram(sys.executable)
        common = ["-m", "medview.training", "--workspace", self._workspace.text().strip()]
        common += ["--progress-json", "--background"]  # low CPU priority: the window stays responsive
        process.setArguments(common + arguments)
        process.readyReadStandardOutput.connect(self._read_events)
        process.finished.connect(self._process_finished)
        self._process = process
        self._set_running(True)
        self._bar.setValue(0)
        self._status.setText("Starting training…")
        process.start()

    def _read_events(self) -> None:
        self._buffer += bytes(self._process.readAllStandardOutput())
        *lines, self._buffer = self._buffer.split(b"\n")
        for line in lines:
            if line.strip().startswith(b"{"):
                self._handle(json.loads(line))

    def _handle(self, event: dict) -> None:
        kind = event["event"]
        if kind == "start":
            self._run_dir = event["run"]
            self._show_run_cases(read_run(self._workspace.text().strip(), self._run_dir))
        elif kind == "baseline":
            self.baseline = event["metrics"][event["metric"]]
            self._plot()
        elif kind == "progress":
            self._bar.setValue(int(event["fraction"] * _PROGRESS_STEPS))
            if not self.history:
                self._status.setText(event["message"])
        elif kind == "epoch":  # a resumed run redoes an epoch that ended with no checkpoint
            self.history = [done for done in self.history if done["epoch"] < event["epoch"]] + [event]
            self._status.setText(
                f"Epoch {event['epoch']}: loss {event['loss']:.3f}, "
                f"validation {metric_title(event['metric'])} {event['val_score']:.3f}; "
                f"about {_duration(event['seconds_left'])} left"
            )
            self._plot()
        elif kind == "done":
            self._bar.setValue(_PROGRESS_STEPS)
            self._status.setText(f"New version {event['version']}: {finished_summary(event)}")
            self._validation_note.setText(validation_summary(event))
            self._run_dir = None
            self._validation_ids = list(event["validation_cases"])
            self._show_test_cases(event.get("test_cases") or [])
            self._show_versions()
            self.version_published.emit(self._model.currentData(), event["version"])
        elif kind == "cancelled":
            done = len(self.history)
            self._status.setText(
                f"Stopped after {done} epochs; earlier versions are unchanged. Resume continues."
            )
        elif kind == "error":
            self._status.setText(event["message"])

    def _process_finished(self, exit_code: int, exit_status: QProcess.ExitStatus) -> None:
        self._read_events()
        if exit_code not in (0, 2, 130) or exit_status != QProcess.ExitStatus.NormalExit:
            error = bytes(self._process.readAllStandardError()).decode(errors="replace").strip()
            self._status.setText(f"Training failed: {error.splitlines()[-1] if error else exit_code}")
        self._process.deleteLater()
        self._process = None
        self._set_running(False)

    # display

    def _plot(self) -> None:
        self.curves.show_history(self.history, self.baseline)

    def _show_last_run(self) -> None:
        """Show the chosen model's last run in this workspace: its curves, the cases it held out, and
        Resume when it stopped with a checkpoint. Nothing changes while a run of this panel is going."""
        directory, model = self._workspace.text().strip(), self._model.currentData()
        if self.running:
            return
        run = last_run(directory, model) if directory and model else None
        self.history = run.epochs if run is not None else []
        self.baseline = run.baseline if run is not None else None
        self._run_dir = str(run.folder) if run is not None and run.resumable else None
        self._validation_ids = []
        self._validation_note.setText("")
        if run is not None:
            self._show_run_cases(run)
        if run is not None and run.resumable:
            self._status.setText(
                f"The last run stopped after {len(run.epochs)} epochs and published nothing; "
                "Resume continues it."
            )
        elif run is not None and run.version is not None:
            event = card_event(versions.find_version(directory, model, run.version).card)
            self._status.setText(f"Last run made version {run.version}: {finished_summary(event)}")
            self._validation_note.setText(validation_summary(event))
        self._plot()
        self._set_running(False)

    def _show_run_cases(self, run: RunRecord) -> None:
        """Mark the cases ``run`` holds out, and its test cases, as its folder records them."""
        self._validation_ids = run.validation_cases
        if run.test_cases:
            self._show_test_cases(run.test_cases)
        self._mark_cases()

    def _show_test_cases(self, case_ids: list[str] | None) -> None:
        """Name the workspace's test cases on their read-only line and mark them in the case list."""
        self._test_ids = case_ids
        if case_ids is None:
            self._test_cases.setText("Test cases: none set aside yet")
        elif not case_ids:
            self._test_cases.setText("Test cases: none (results are validation only)")
        else:
            self._test_cases.setText(f"Test cases: {', '.join(case_ids)} ({TEST_MEANING})")
        self._mark_cases()

    def _show_versions(self) -> None:
        directory, model = self._workspace.text().strip(), self._model.currentData()
        published = versions.list_versions(directory, model) if directory and model else []
        names = ", ".join(version.version for version in published) or "none yet"
        self._versions.setText(f"Fine-tuned versions: {names}")

    def _mark_cases(self) -> None:
        """Tag the cases a run holds out (validation) and the test cases, so the user sees which ones the
        scores are about; the tags follow the roles, never pile up."""
        for row in range(self._cases.count()):
            item = self._cases.item(row)
            case, plain = item.data(Qt.ItemDataRole.UserRole), item.data(_PLAIN_TEXT)
            role = "test" if case in (self._test_ids or ()) else ""
            role = role or ("validation" if case in self._validation_ids else "")
            item.setText(f"{plain} · {role}" if role else plain)
            item.setToolTip(f"test case: {TEST_MEANING}" if role == "test" else "")

    def _set_running(self, running: bool) -> None:
        self._start.setEnabled(not running)
        self._stop.setEnabled(running)
        self._resume.setEnabled(not running and self._run_dir is not None)
        for widget in (
            self._workspace,
            self._model,
            self._cases,
            self._budget,
            self._budget_unit,
            self._from_scratch,
            self._learning_rate,
            self._validation,
        ):
            widget.setEnabled(not running)

    def _workspace_from_layer(self, event) -> None:
        case = event.value.metadata.get(CASE_KEY)
        if case and not self._workspace.text().strip() and not self.running:
            self.set_workspace(case["workspace"])

    def _choose_workspace(self) -> None:
        directory = QFileDialog.getExistingDirectory(self, "Workspace folder")
        if directory:
            self.set_workspace(directory)

    def _layout(self, browse: QPushButton) -> None:
        workspace_row = QHBoxLayout()
        workspace_row.addWidget(self._workspace)
        workspace_row.addWidget(browse)
        budget_row = QHBoxLayout()
        budget_row.addWidget(self._budget)
        budget_row.addWidget(self._budget_unit)
        form = QFormLayout()
        form.addRow("Workspace", workspace_row)
        form.addRow("Model", self._model)
        form.addRow("Cases", self._cases)
        form.addRow("", self._test_cases)
        form.addRow("Budget", budget_row)
        form.addRow("Learning rate", self._learning_rate)
        form.addRow("Validation", self._validation)
        form.addRow("", self._from_scratch)
        buttons = QHBoxLayout()
        for button in (self._start, self._stop, self._resume):
            buttons.addWidget(button)
        layout = QVBoxLayout(self)
        layout.addLayout(form)
        layout.addLayout(buttons)
        layout.addWidget(self._bar)
        layout.addWidget(self._status)
        layout.addWidget(self._validation_note)
        layout.addWidget(self.curves)
        layout.addWidget(self._versions)


def _recorded_test_cases(directory: str, objective: Objective) -> list[str] | None:
    """The test cases the workspace records for the objective's kind of annotation (``None``: not yet)."""
    try:
        with Workspace.open(directory) as workspace:
            return workspace.test_cases(objective.annotation_kind)
    except MedviewError:
        return None


def _duration(seconds: float) -> str:
    """``1 min 35 s`` or ``12 s``: the time left as a person reads it."""
    minutes, rest = divmod(int(round(seconds)), 60)
    return f"{minutes} min {rest} s" if minutes else f"{rest} s"
