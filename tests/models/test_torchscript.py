"""The user's own TorchScript model (or MONAI bundle) with a JSON sidecar becomes a plugin, which is
listed from its sidecar alone and loaded only once the user trusts the file."""

from __future__ import annotations

import hashlib
import json

import numpy as np
import pytest
import torch
from torchscript_files import Bright, bone_sidecar, save_model

from medview.core.errors import InputError
from medview.models.registry import Registry, predict_safely
from medview.models.torchscript import TorchScriptPlugin, UntrustedModelError

SIDECAR = bone_sidecar(-100, 500, channels=1, target_spacing=None, patch_size=[4, 8, 8])


class Score(torch.nn.Module):
    """Two logits from the image mean: a classifier."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        mean = x.mean(dim=(1, 2, 3, 4))
        return torch.stack([-mean, mean], dim=1)


def trusted(path) -> TorchScriptPlugin:
    plugin = TorchScriptPlugin.from_file(path)
    plugin.trust()
    return plugin


@pytest.fixture
def jit_load_calls(monkeypatch):
    """``torch.jit.load`` counting its calls; it fails the test when called while ``refuse`` is set."""
    real, calls = torch.jit.load, {"count": 0, "refuse": True}

    def load(*args, **kwargs):
        if calls["refuse"]:
            pytest.fail("torch.jit.load was called on a TorchScript file nobody trusted")
        calls["count"] += 1
        return real(*args, **kwargs)

    monkeypatch.setattr(torch.jit, "load", load)
    return calls


def test_segmentation_model_with_sidecar(tmp_path, ct_scan):
    plugin = trusted(save_model(tmp_path, Bright(), SIDECAR))
    assert plugin.info.title == "my-bone 3"
    prediction = plugin.predict(ct_scan)
    assert prediction.label_map.fits(ct_scan)
    assert np.array_equal(prediction.label_map.array, (ct_scan.array > 200).astype(np.uint8))
    assert prediction.label_map.labels.name_of(1) == "bone"


def test_classification_model(tmp_path, ct_scan):
    sidecar = {
        **SIDECAR,
        "task": "classification",
        "labels": {
            "classes": [
                {"value": 1, "name": "dark", "colour": [0, 0, 0]},
                {"value": 2, "name": "bright", "colour": [1, 1, 1]},
            ]
        },
    }
    plugin = trusted(save_model(tmp_path, Score(), sidecar))
    probabilities = plugin.predict(ct_scan).probabilities_by_class()
    assert set(probabilities) == {"dark", "bright"}
    # an eighth of the voxels normalise to 1, the rest to 0: logits (-1/8, 1/8)
    assert probabilities["bright"] == pytest.approx(1 / (1 + np.exp(-0.25)), abs=1e-5)
    assert sum(probabilities.values()) == pytest.approx(1.0)


def test_monai_bundle_folder_takes_name_and_version_from_its_metadata(tmp_path, ct_scan):
    (tmp_path / "models").mkdir()
    (tmp_path / "configs").mkdir()
    save_model(tmp_path / "models", Bright(), None, name="model.ts")
    (tmp_path / "configs" / "metadata.json").write_text(
        json.dumps({"name": "bone_bundle", "version": "0.2.1"})
    )
    sidecar = {key: value for key, value in SIDECAR.items() if key not in ("name", "version")}
    (tmp_path / "medview.json").write_text(json.dumps(sidecar))
    plugin = trusted(tmp_path)
    assert plugin.info.title == "bone_bundle 0.2.1"
    assert plugin.predict(ct_scan).label_map.fits(ct_scan)


def test_plugin_folders_turn_torchscript_files_into_plugins(tmp_path):
    save_model(tmp_path, Bright(), SIDECAR)
    save_model(tmp_path, Bright(), None, name="lonely.pt")
    registry = Registry.discover(folders=[tmp_path], group="no.such.group")
    assert [p.info.name for p in registry.plugins] == ["my-bone"]
    assert "needs a JSON sidecar describing it: lonely.json" in registry.broken[0].error


@pytest.mark.parametrize(
    ("sidecar", "message"),
    [
        ({**SIDECAR, "task": "detection"}, "TorchScript models may do segmentation or classification"),
        ({key: v for key, v in SIDECAR.items() if key != "input"}, "sidecar does not describe a model"),
        ({**SIDECAR, "input": {"ndim": 4}}, "2-D or 3-D"),
    ],
)
def test_bad_sidecars_are_explained(tmp_path, sidecar, message):
    with pytest.raises(InputError, match=message):
        TorchScriptPlugin.from_file(save_model(tmp_path, Bright(), sidecar))


def test_a_file_that_is_not_torchscript(tmp_path, ct_scan):
    path = tmp_path / "model.pt"
    path.write_bytes(b"nonsense")
    path.with_suffix(".json").write_text(json.dumps(SIDECAR))
    with pytest.raises(InputError, match="not a TorchScript model"):
        trusted(path).predict(ct_scan)


def test_discovery_reads_the_sidecar_only_and_marks_the_model_as_needing_trust(tmp_path, jit_load_calls):
    path = save_model(tmp_path, Bright(), SIDECAR)
    registry = Registry.discover(folders=[tmp_path], group="no.such.group")
    assert registry.broken == []
    (plugin,) = registry.plugins
    assert plugin.info.title == "my-bone 3" and plugin.requires_trust
    assert plugin.model_path == path and jit_load_calls["count"] == 0


def test_an_untrusted_model_is_never_loaded_and_says_how_to_trust_it(tmp_path, ct_scan, jit_load_calls):
    path = save_model(tmp_path, Bright(), SIDECAR)
    plugin = Registry.discover(folders=[tmp_path], group="no.such.group").get("my-bone")
    for run in (plugin.predict, lambda scan: predict_safely(plugin, scan)):
        with pytest.raises(UntrustedModelError) as error:
            run(ct_scan)
        message = str(error.value)
        assert message.startswith(
            f"{path}: model my-bone is a TorchScript file, which runs code stored in it"
        )
        assert "add --trust to `medview predict`, or confirm it in the Models panel" in message

    jit_load_calls["refuse"] = False
    plugin.trust()
    assert not plugin.requires_trust
    assert np.array_equal(plugin.predict(ct_scan).label_map.array, (ct_scan.array > 200).astype(np.uint8))
    assert jit_load_calls["count"] == 1


def test_trust_covers_the_content_that_was_trusted(tmp_path, ct_scan, jit_load_calls):
    path = save_model(tmp_path, Bright(), SIDECAR)
    plugin = TorchScriptPlugin.from_file(path)
    plugin.trust()
    save_model(tmp_path, Score(), None)  # the file is replaced after the user trusted it
    with pytest.raises(UntrustedModelError, match="the TorchScript file changed after it was trusted"):
        plugin.predict(ct_scan)
    other = TorchScriptPlugin.from_file(path)
    other.trust("0" * 64)
    with pytest.raises(UntrustedModelError, match="changed after it was trusted"):
        other.predict(ct_scan)
    assert jit_load_calls["count"] == 0
    assert plugin.file_sha256() == hashlib.sha256(path.read_bytes()).hexdigest()
