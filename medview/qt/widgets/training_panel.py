"""The training panel: fine-tune a model on a workspace's annotated cases without freezing the GUI.

The models offered are those with a training objective (segmentation, and plugins such as the
nodule detector and patch classifier that declare one); the cases listed are those the chosen
model's objective can learn from (label maps, boxes or case classes), including, for segmentation,
cases still in progress, which train on their annotated slices only.

Training runs as a subprocess (``python -m medview.training --progress-json``) started with
``QProcess``; the panel reads its JSON lines to move the progress bar, show the time left and plot the
loss and validation metric per epoch. Stop sends SIGTERM: the run stops at its next step, keeps its
checkpoint (Resume continues it) and publishes nothing, so earlier model versions stay usable.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from matplotlib.lines import Line2D
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
from medview.qt.widgets.plot_canvas import PlotCanvas
from medview.training import versions
from medview.training.command import metric_title
from medview.training.config import TrainingConfig
from medview.training.objectives import Objective, objective_for

_PROGRESS_STEPS = 1000
_STOP_WAIT_MS = 15_000
"""How long closing waits for a stopped run to finish its step and exit."""


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
        self.baseline: float | None = None  # the starting model's validation score
        self.before_start: Callable[[], bool] | None = None
        """Asked by :meth:`start` first; True means it has deferred the start and will call it again
        (the main window saves the open case's unsaved annotation this way, so it trains too)."""

        self._workspace = QLineEdit()
        self._workspace.setPlaceholderText("workspace folder")
        self._workspace.editingFinished.connect(self.refresh_cases)
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
            "(cases in progress only train, on their annotated slices)"
        )
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
        self._validation.setSuffix(" % of done cases")
        self._validation.setValue(round(100 * TrainingConfig.validation_fraction))
        self._validation.setToolTip("Whole cases held out to validate on (at least one); never trained on")
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
        # fixed margins: a constrained layout is solved at every redraw, once per epoch, on the GUI thread
        self._loss_plot = PlotCanvas(self, layout=None)
        self._dice_plot = PlotCanvas(self, layout=None)
        self._loss_line = _curve(self._loss_plot, "training loss")
        self._score_line = _curve(self._dice_plot, "validation score")
        self._baseline_line = self._dice_plot.axes.axhline(
            0.0, color="grey", linestyle="--", linewidth=1, label="before", visible=False
        )
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
    def workspace(self) -> Path | None:
        """The workspace folder runs train in, if one is chosen."""
        directory = self._workspace.text().strip()
        return Path(directory) if directory else None

    @property
    def running(self) -> bool:
        return self._process is not None

    def set_workspace(self, directory: str | Path) -> None:
        """Train in the workspace at ``directory``; lists its annotated cases."""
        self._workspace.setText(str(directory))
        self.refresh_cases()

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
        for choice in choices:
            item = QListWidgetItem(f"{choice.name} ({choice.detail})")
            item.setData(Qt.ItemDataRole.UserRole, choice.case_id)
            item.setFlags(item.flags() | Qt.ItemFlag.ItemIsUserCheckable)
            checked = choice.case_id not in unticked
            item.setCheckState(Qt.CheckState.Checked if checked else Qt.CheckState.Unchecked)
            self._cases.addItem(item)
        self._status.setText(f"{len(choices)} annotated cases")
        self._show_versions()

    def _model_changed(self) -> None:
        """Offer the chosen model's cases and its objective's learning rate."""
        objective = self._objectives.get(self._model.currentData())
        if objective is not None:
            self._learning_rate.setValue(objective.learning_rate)
        self.refresh_cases()

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
        """Continue the last stopped run from its checkpoint."""
        if self._run_dir is not None:
            self._launch(["--resume", self._run_dir])

    # the subprocess

    def _launch(self, arguments: list[str]) -> None:
        self.history = []
        self.baseline = None
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
        elif kind == "baseline":
            self.baseline = event["metrics"][event["metric"]]
            self._plot()
        elif kind == "progress":
            self._bar.setValue(int(event["fraction"] * _PROGRESS_STEPS))
            if not self.history:
                self._status.setText(event["message"])
        elif kind == "epoch":
            self.history.append(event)
            self._status.setText(
                f"Epoch {event['epoch']}: loss {event['loss']:.3f}, "
                f"validation {metric_title(event['metric'])} {event['val_score']:.3f}; "
                f"about {_duration(event['seconds_left'])} left"
            )
            self._plot()
        elif kind == "done":
            self._bar.setValue(_PROGRESS_STEPS)
            metric = event["metric"]
            self._status.setText(
                f"New version {event['version']}: validation {metric_title(metric)} "
                f"{event['metrics_before'][metric]:.3f} → {event['metrics_after'][metric]:.3f} "
                f"({event['epochs']} epochs, {event['stop_reason']})"
            )
            self._run_dir = None
            self._mark_validation_cases(event["validation_cases"])
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
        """Move the two curves to the history so far: new data on lines drawn once, because a plot
        rebuilt from scratch every epoch costs the GUI thread several times as long."""
        epochs = [event["epoch"] for event in self.history]
        metric = self.history[-1]["metric"] if self.history else "score"
        self._dice_plot.axes.set_title(f"validation {metric_title(metric)}", fontsize=9)
        self._baseline_line.set_visible(self.baseline is not None)
        if self.baseline is not None:  # dashed: where the model started, so a gain is seen at once
            self._baseline_line.set_ydata([self.baseline, self.baseline])
        for canvas, line, key in (
            (self._loss_plot, self._loss_line, "loss"),
            (self._dice_plot, self._score_line, "val_score"),
        ):
            line.set_data(epochs, [event[key] for event in self.history])
            canvas.axes.relim(visible_only=True)
            canvas.axes.autoscale_view()
            canvas.draw_idle()

    def _show_versions(self) -> None:
        directory, model = self._workspace.text().strip(), self._model.currentData()
        published = versions.list_versions(directory, model) if directory and model else []
        names = ", ".join(version.version for version in published) or "none yet"
        self._versions.setText(f"Fine-tuned versions: {names}")

    def _mark_validation_cases(self, case_ids: list[str]) -> None:
        """Tag the cases the run held out, so the user sees which ones the comparison is about."""
        for row in range(self._cases.count()):
            item = self._cases.item(row)
            if item.data(Qt.ItemDataRole.UserRole) in case_ids:
                item.setText(f"{item.text()} · validation")

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
        layout.addWidget(self._loss_plot)
        layout.addWidget(self._dice_plot)
        layout.addWidget(self._versions)


def _curve(canvas: PlotCanvas, title: str) -> Line2D:
    """An empty curve per epoch on ``canvas``, titled."""
    (line,) = canvas.axes.plot([], [], marker="o")
    canvas.axes.set_title(title, fontsize=9)
    canvas.axes.set_xlabel("epoch", fontsize=8)
    return line


def _duration(seconds: float) -> str:
    """``1 min 35 s`` or ``12 s``: the time left as a person reads it."""
    minutes, rest = divmod(int(round(seconds)), 60)
    return f"{minutes} min {rest} s" if minutes else f"{rest} s"
