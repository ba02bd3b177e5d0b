"""Find model plugins: the ``medview.models`` entry-point group and plugin folders.

Discovery imports plugin code only when asked (never at import time). A plugin that fails to import,
to construct, or to declare a valid :class:`ModelInfo` becomes a :class:`BrokenPlugin` record with
its error text; discovery itself never raises because of a plugin.

A plugin folder holds ``*.py`` files that define ``create_plugin() -> ModelPlugin``, and TorchScript
files (``*.pt``, ``*.ts``) each with a JSON sidecar (see :mod:`medview.models.torchscript`). The
``*.py`` files are imported, so they run: a plugin folder is code the user installed. A TorchScript
file is listed from its sidecar alone and is only deserialised once the user trusts it.
"""

from __future__ import annotations

import dataclasses
import importlib.util
import os
import traceback
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from importlib.metadata import entry_points
from pathlib import Path

from medview.core.errors import InputError, MedviewError
from medview.core.progress import Cancelled, CancelToken, ProgressCallback, no_progress
from medview.core.scan import Scan
from medview.models.api import (
    ModelInfo,
    ModelPlugin,
    Prediction,
    assume_spacing,
    assumption_note,
    check_fits,
    unresolved_concerns,
)

GROUP = "medview.models"
PLUGIN_PATH_ENV = "MEDVIEW_PLUGIN_PATH"
TORCHSCRIPT_SUFFIXES = (".pt", ".ts")


class PluginError(MedviewError):
    """A plugin raised while predicting; the message names the plugin and its error."""


@dataclass(frozen=True)
class BrokenPlugin:
    """A plugin that could not be loaded: where it came from and why."""

    name: str
    source: str
    error: str

    def to_dict(self) -> dict:
        return {"name": self.name, "source": self.source, "error": self.error}


class Registry:
    """The plugins found, in discovery order, and the broken ones."""

    def __init__(self, plugins: Iterable[ModelPlugin] = (), broken: Iterable[BrokenPlugin] = ()) -> None:
        self.plugins: list[ModelPlugin] = []
        self.broken: list[BrokenPlugin] = list(broken)
        for plugin in plugins:
            self._add(plugin, source=type(plugin).__module__)

    @classmethod
    def discover(cls, folders: Sequence[str | Path] | None = None, group: str = GROUP) -> Registry:
        """Load every plugin of the entry-point ``group`` and of ``folders`` (default: the folders
        listed in ``$MEDVIEW_PLUGIN_PATH``)."""
        registry = cls()
        for entry in entry_points(group=group):
            registry._load(entry.name, f"entry point {entry.value}", entry.load)
        for folder in default_folders() if folders is None else [Path(f) for f in folders]:
            registry._load_folder(folder)
        return registry

    def get(self, name: str) -> ModelPlugin:
        """The plugin called ``name``; an :class:`InputError` lists the known names otherwise."""
        for plugin in self.plugins:
            if plugin.info.name == name:
                return plugin
        for broken in self.broken:
            if broken.name == name:
                raise InputError(f"model {name!r} is installed but broken: {broken.error}")
        known = ", ".join(p.info.name for p in self.plugins) or "none installed"
        raise InputError(f"no model called {name!r}; known models: {known}")

    def fitting(self, scan: Scan) -> list[ModelPlugin]:
        """Plugins whose modality, dimension and channels fit ``scan``."""
        return [plugin for plugin in self.plugins if plugin.info.fits(scan)]

    def other_modality(self, scan: Scan) -> list[ModelPlugin]:
        """Plugins that can run on ``scan`` (dimension and channels) but were trained on another modality."""
        return [p for p in self.plugins if p.info.takes(scan) and not p.info.trained_on(scan.modality)]

    def _load_folder(self, folder: Path) -> None:
        if not folder.is_dir():
            return
        for path in sorted(folder.glob("*.py")):
            self._load(path.stem, str(path), lambda path=path: _module_factory(path))
        for path in sorted(p for p in folder.iterdir() if p.suffix in TORCHSCRIPT_SUFFIXES):
            from medview.models.torchscript import TorchScriptPlugin

            self._load(path.stem, str(path), lambda path=path: lambda: TorchScriptPlugin.from_file(path))

    def _load(self, name: str, source: str, load_factory) -> None:
        # Anything may go wrong in third-party code: report it, keep the app running.
        try:
            plugin = load_factory()()
            if not isinstance(getattr(plugin, "info", None), ModelInfo) or not callable(
                getattr(plugin, "predict", None)
            ):
                raise TypeError("the plugin has no ModelInfo 'info' or no 'predict' method")
        except Exception as error:  # noqa: BLE001
            self.broken.append(BrokenPlugin(name, source, _describe(error)))
            return
        self._add(plugin, source)

    def _add(self, plugin: ModelPlugin, source: str) -> None:
        if any(existing.info.name == plugin.info.name for existing in self.plugins):
            self.broken.append(BrokenPlugin(plugin.info.name, source, "another plugin already has this name"))
            return
        self.plugins.append(plugin)


def predict_safely(
    plugin: ModelPlugin,
    scan: Scan,
    progress: ProgressCallback = no_progress,
    cancel: CancelToken | None = None,
    *,
    any_modality: bool = False,
    assumed_spacing: Sequence[float] | None = None,
) -> Prediction:
    """Run ``plugin`` on ``scan`` once its input concerns are settled; anything it raises (other than
    cancel and medview's own errors) becomes a :class:`PluginError` naming the plugin, so callers
    show a message, not a crash.

    Args:
        any_modality: the user accepts running on a modality the model was not trained on.
        assumed_spacing: the pixel size (array order, in the model's ``spacing_units``) to assume for
            a scan that gives none. The model runs on a copy of the scan with that spacing; the
            prediction comes back on the scan's own grid and geometry, with the assumption in its
            ``notes`` and provenance.

    Raises:
        InputError: the network cannot take the scan, or a concern of
            :func:`~medview.models.api.input_concerns` is left unsettled.
    """
    info = plugin.info
    check_fits(info, scan)
    concerns = unresolved_concerns(info, scan, any_modality, assumed_spacing)
    if concerns:
        raise InputError("; ".join(map(str, concerns)), scan.source)
    units = info.input.spacing_units
    run_on = scan if assumed_spacing is None else assume_spacing(scan, assumed_spacing, units)
    try:
        prediction = plugin.predict(run_on, progress, cancel)
    except (Cancelled, MedviewError):
        raise
    except Exception as error:  # noqa: BLE001
        raise PluginError(f"model {info.title} failed: {_describe(error)}") from error
    if assumed_spacing is not None:
        _back_on_scan_grid(prediction, scan, assumption_note(assumed_spacing, units))
    return prediction


def _back_on_scan_grid(prediction: Prediction, scan: Scan, note: str) -> None:
    """Give a prediction made at an assumed pixel size the scan's own geometry (the grid is the same;
    only its size was assumed) and record the assumption."""
    provenance = prediction.provenance
    derived_from = f"{provenance.derived_from or scan.name}; {note}"
    provenance = dataclasses.replace(provenance, derived_from=derived_from)
    prediction.provenance = provenance
    prediction.geometry = scan.geometry
    prediction.notes.append(note)
    label_map = prediction.label_map
    if label_map is not None:
        label_map.provenance = provenance
        if label_map.array.shape == scan.spatial_shape:
            label_map.geometry = scan.geometry
        else:  # a whole-slide image segmented at a coarser pyramid level
            from medview.models.engine import level_geometry  # torch: only when a level was used

            label_map.geometry = level_geometry(scan.geometry, scan.spatial_shape, label_map.array.shape)


def default_folders() -> list[Path]:
    """Plugin folders named in ``$MEDVIEW_PLUGIN_PATH`` (separated like ``PATH``)."""
    return [Path(p) for p in os.environ.get(PLUGIN_PATH_ENV, "").split(os.pathsep) if p]


def _module_factory(path: Path):
    spec = importlib.util.spec_from_file_location(f"medview_user_plugin_{path.stem}", path)
    if spec is None or spec.loader is None:
        raise ImportError(f"cannot import {path}")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    if not callable(getattr(module, "create_plugin", None)):
        raise TypeError(f"{path.name} defines no create_plugin() function")
    return module.create_plugin


def _describe(error: BaseException) -> str:
    where = traceback.extract_tb(error.__traceback__)[-1:] if error.__traceback__ else []
    place = f" ({Path(where[0].filename).name}:{where[0].lineno})" if where else ""
    return f"{type(error).__name__}: {error}{place}"
