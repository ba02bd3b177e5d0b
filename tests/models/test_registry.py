"""Plugins are found through the entry-point group and plugin folders; broken ones are reported, not fatal."""

from __future__ import annotations

import dataclasses
from importlib.metadata import EntryPoint

import numpy as np
import pytest
import torch
from medview_plugins.threshold.plugin import ThresholdPlugin

from medview.core.errors import InputError
from medview.core.geometry import Geometry
from medview.core.progress import no_progress
from medview.core.scan import Scan
from medview.models import registry as registry_module
from medview.models.engine import Engine
from medview.models.network_plugin import SegmentationPlugin
from medview.models.registry import BrokenPlugin, PluginError, Registry, predict_safely


class ExplodingPlugin(ThresholdPlugin):
    """Declares itself properly, then raises while predicting."""

    def __init__(self) -> None:
        super().__init__()
        self.info = dataclasses.replace(self.info, name="exploding")

    def predict(self, scan, progress=None, cancel=None):
        raise ZeroDivisionError("the plugin's own bug")


GOOD_PLUGIN = """
from medview_plugins.threshold.plugin import ThresholdPlugin

def create_plugin():
    return ThresholdPlugin(threshold=0.0, ndim=2, modalities=("DX",))
"""


def fake_entry_points(*entries: EntryPoint):
    def entry_points(group: str):
        return [entry for entry in entries if entry.group == group]

    return entry_points


def test_bundled_plugins_are_found_through_entry_points():
    names = [plugin.info.name for plugin in Registry.discover(folders=[]).plugins]
    assert {"threshold", "ct-unet3d", "nuclei-unet2d", "nodule-detector", "patch-classifier"} <= set(names)


def test_broken_entry_point_is_reported_and_others_still_load(monkeypatch):
    entries = (
        EntryPoint("missing", "no_such_package.plugin:Plugin", "medview.models"),
        EntryPoint("threshold", "medview_plugins.threshold.plugin:ThresholdPlugin", "medview.models"),
        EntryPoint("not-a-plugin", "collections:OrderedDict", "medview.models"),
    )
    monkeypatch.setattr(registry_module, "entry_points", fake_entry_points(*entries))
    registry = Registry.discover(folders=[])
    assert [p.info.name for p in registry.plugins] == ["threshold"]
    broken = {b.name: b.error for b in registry.broken}
    assert broken["missing"].startswith("ModuleNotFoundError: No module named 'no_such_package'")
    assert "no ModelInfo" in broken["not-a-plugin"]


def test_plugin_folder_python_files(tmp_path):
    (tmp_path / "good.py").write_text(GOOD_PLUGIN)
    (tmp_path / "raises.py").write_text("raise ImportError('needs a package you lack')\n")
    (tmp_path / "empty.py").write_text("x = 1\n")
    registry = Registry.discover(folders=[tmp_path], group="no.such.group")
    assert [p.info.name for p in registry.plugins] == ["threshold-2d"]
    broken = {b.name: b.error for b in registry.broken}
    assert broken["raises"].startswith("ImportError: needs a package you lack (raises.py:1)")
    assert "defines no create_plugin()" in broken["empty"]


def test_folders_come_from_the_environment(tmp_path, monkeypatch):
    (tmp_path / "good.py").write_text(GOOD_PLUGIN)
    monkeypatch.setenv(registry_module.PLUGIN_PATH_ENV, str(tmp_path))
    registry = Registry.discover(group="no.such.group")
    assert registry.get("threshold-2d").info.modalities == ("DX",)


def test_duplicate_names_keep_the_first():
    registry = Registry([ThresholdPlugin(), ThresholdPlugin(threshold=10)])
    assert registry.get("threshold").threshold == 300
    assert registry.broken[0].error == "another plugin already has this name"


def test_get_names_what_is_known():
    registry = Registry([ThresholdPlugin()], [BrokenPlugin("bad", "x", "ImportError: y")])
    with pytest.raises(InputError, match="no model called 'nope'; known models: threshold"):
        registry.get("nope")
    with pytest.raises(InputError, match="installed but broken: ImportError: y"):
        registry.get("bad")


def test_fitting_filters_by_modality_and_dimension(ct_scan):
    registry = Registry([ThresholdPlugin(), ThresholdPlugin(ndim=2, modalities=("DX",))])
    assert [p.info.name for p in registry.fitting(ct_scan)] == ["threshold"]


def test_a_plugin_raising_while_predicting_becomes_a_plugin_error(ct_scan):
    with pytest.raises(
        PluginError, match=r"model exploding 1.0.0 failed: ZeroDivisionError: the plugin's own bug"
    ):
        predict_safely(ExplodingPlugin(), ct_scan)


def test_threshold_template_predicts_on_the_scan_grid(ct_scan):
    prediction = predict_safely(ThresholdPlugin(), ct_scan)
    label_map = prediction.label_map
    assert label_map.fits(ct_scan)
    assert label_map.provenance.source == "model"
    assert (label_map.provenance.author, label_map.provenance.model_version) == ("threshold", "1.0.0")
    assert int(label_map.array.sum()) == 6 * 10 * 12
    assert np.array_equal(label_map.array, (ct_scan.array >= 300).astype(np.uint8))


class SpacingRecorder(ThresholdPlugin):
    """A 2-D DX model trained at 0.2 mm that records the scan it is given."""

    def __init__(self) -> None:
        super().__init__(threshold=5.0, ndim=2, modalities=("DX",))
        spec = dataclasses.replace(self.info.input, target_spacing=(0.2, 0.2), needs_spacing=True)
        self.info = dataclasses.replace(self.info, name="recorder", input=spec)
        self.seen: list[Scan] = []

    def predict(self, scan, progress=no_progress, cancel=None):
        self.seen.append(scan)
        return super().predict(scan, progress, cancel)


def photo(modality: str = "OT", units: str = "pixel") -> Scan:
    array = np.zeros((6, 8), np.uint16)
    array[2:4, 3:6] = 9
    return Scan(
        array, Geometry.from_spacing((1.0, 1.0), (2.0, 3.0)), modality, "photo", units=units, source="p.png"
    )


def test_other_modality_lists_models_that_could_run_but_were_not_trained_on_it(ct_scan):
    registry = Registry([ThresholdPlugin(), ThresholdPlugin(ndim=2, modalities=("DX",))])
    mr = Scan(ct_scan.array, ct_scan.geometry, "MR", "mr")
    assert registry.fitting(mr) == []
    assert [p.info.name for p in registry.other_modality(mr)] == ["threshold"]
    assert registry.other_modality(ct_scan) == []


def test_predict_safely_refuses_unsettled_concerns_before_the_model_runs():
    plugin = SpacingRecorder()
    with pytest.raises(
        InputError,
        match=r"^p.png: recorder was trained on DX images; this scan is MR; recorder was trained on DX at "
        r"0.2 x 0.2 mm; this scan's pixel size is unknown \(pixel units\)$",
    ):
        predict_safely(plugin, photo("MR"))
    with pytest.raises(InputError, match=r"^p.png: recorder was trained on DX at 0.2 x 0.2 mm; this scan's"):
        predict_safely(plugin, photo("MR"), any_modality=True)
    assert plugin.seen == []


def test_another_modality_runs_when_the_user_accepts_it(ct_scan):
    mr = Scan(ct_scan.array, ct_scan.geometry, "MR", "mr")
    with pytest.raises(InputError, match="threshold was trained on CT images; this scan is MR"):
        predict_safely(ThresholdPlugin(), mr)
    prediction = predict_safely(ThresholdPlugin(), mr, any_modality=True)
    assert prediction.label_map.fits(mr) and prediction.notes == []


def test_an_assumed_pixel_size_is_what_the_model_sees_and_is_recorded():
    plugin, scan = SpacingRecorder(), photo()
    prediction = predict_safely(plugin, scan, assumed_spacing=(0.25, 0.5))
    (seen,) = plugin.seen
    assert seen.spacing == pytest.approx((0.25, 0.5)) and seen.units == "mm"
    assert seen.geometry.origin == pytest.approx((2.0, 3.0))
    note = "assumed pixel size 0.25 x 0.5 mm (the file gives none)"
    # the result lies on the scan the user has open, which keeps its unknown pixel size
    assert prediction.label_map.fits(scan) and prediction.geometry is scan.geometry
    assert (scan.units, scan.spacing) == ("pixel", (1.0, 1.0))
    assert prediction.notes == [note]
    assert prediction.provenance.derived_from == f"p.png; {note}"
    assert prediction.label_map.provenance == prediction.provenance
    assert int(prediction.label_map.array.sum()) == 6


def test_a_network_plugin_called_directly_still_refuses_an_unknown_pixel_size():
    class Network(SegmentationPlugin):
        info = SpacingRecorder().info

        def build_network(self):
            return torch.nn.Conv2d(1, 2, 1)

    with pytest.raises(InputError, match=r"p.png: this scan's pixel size is unknown \(pixel units\)"):
        Network(Engine.create("cpu")).predict(photo("DX"))
