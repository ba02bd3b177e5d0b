"""Weights load from safetensors or weights-only checkpoints; a pickle that would run code is refused."""

from __future__ import annotations

import os
import pickle

import pytest
import torch

from medview.core.errors import InputError
from medview.models.weights import load_into, load_weights, save_weights


def small_network() -> torch.nn.Module:
    return torch.nn.Sequential(torch.nn.Conv2d(1, 2, 3), torch.nn.ReLU(), torch.nn.Conv2d(2, 1, 1))


class RunsCode:
    """Unpickling this calls os.system: the attack a checkpoint file can carry."""

    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return (os.system, (f"touch {self.marker}",))


def test_safetensors_round_trip(tmp_path):
    network = small_network()
    path = save_weights(network, tmp_path / "w.safetensors")
    other = load_into(small_network(), path)
    for name, tensor in network.state_dict().items():
        assert torch.equal(other.state_dict()[name], tensor)


def test_plain_state_dict_checkpoint_loads(tmp_path):
    network = small_network()
    torch.save({"state_dict": network.state_dict()}, tmp_path / "w.pt")
    assert set(load_weights(tmp_path / "w.pt")) == set(network.state_dict())


def test_malicious_pickle_is_refused_and_never_runs(tmp_path):
    marker = tmp_path / "pwned"
    path = tmp_path / "evil.pt"
    torch.save({"weight": torch.zeros(2), "payload": RunsCode(marker)}, path)
    with pytest.raises(InputError, match="refusing to load .* it would run code") as error:
        load_weights(path)
    assert "evil.pt" in str(error.value)
    assert not marker.exists()


def test_bare_pickle_with_payload_is_refused(tmp_path):
    marker = tmp_path / "pwned"
    path = tmp_path / "evil.pth"
    path.write_bytes(pickle.dumps(RunsCode(marker)))
    with pytest.raises(InputError, match="it would run code"):
        load_weights(path)
    assert not marker.exists()


@pytest.mark.parametrize(
    ("name", "content", "message"),
    [
        ("w.safetensors", b"not tensors", "not a readable safetensors file"),
        ("w.pt", b"\x00\x01garbage", "not a readable PyTorch checkpoint"),
    ],
)
def test_unreadable_files_name_the_file(tmp_path, name, content, message):
    (tmp_path / name).write_bytes(content)
    with pytest.raises(InputError, match=message) as error:
        load_weights(tmp_path / name)
    assert name in str(error.value)


def test_weights_of_another_network_are_refused(tmp_path):
    path = save_weights(torch.nn.Conv2d(1, 4, 3), tmp_path / "w.safetensors")
    with pytest.raises(InputError, match="do not fit the network"):
        load_into(small_network(), path)


def test_missing_file(tmp_path):
    with pytest.raises(InputError, match="no such weights file"):
        load_weights(tmp_path / "absent.safetensors")


def test_checkpoints_only_ever_go_through_the_restricted_unpickler(tmp_path, monkeypatch):
    torch.save(small_network().state_dict(), tmp_path / "w.pt")
    real, seen = torch.load, []

    def load(*args, **kwargs):
        seen.append(kwargs.get("weights_only"))
        return real(*args, **kwargs)

    monkeypatch.setattr(torch, "load", load)
    load_weights(tmp_path / "w.pt")
    assert seen == [True]
