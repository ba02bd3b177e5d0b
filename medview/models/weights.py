"""Load network weights without ever running code from the file.

``.safetensors`` files hold tensors only. Anything else goes through
``torch.load(weights_only=True)``, whose restricted unpickler refuses globals outside an allow-list; a
file that would run code when unpickled is refused with an :class:`InputError` before any of its code
runs.
"""

from __future__ import annotations

import pickle
import pickletools
import warnings
import zipfile
from pathlib import Path

import torch
from safetensors import SafetensorError
from safetensors.torch import load_file, save_file

from medview.core.errors import InputError

SAFETENSORS_SUFFIX = ".safetensors"
_CODE_OPCODES = {"GLOBAL", "STACK_GLOBAL", "REDUCE", "INST", "OBJ", "NEWOBJ", "NEWOBJ_EX"}


def load_weights(path: str | Path) -> dict[str, torch.Tensor]:
    """A state dict (name -> CPU tensor) from a safetensors file or a weights-only torch checkpoint."""
    path = Path(path)
    if not path.is_file():
        raise InputError("no such weights file", path)
    if path.suffix == SAFETENSORS_SUFFIX:
        try:
            return load_file(str(path), device="cpu")
        except (SafetensorError, OSError) as error:
            raise InputError(f"not a readable safetensors file ({error})", path) from error
    try:
        with warnings.catch_warnings():
            # torch notes non-default pickle protocols; the restricted unpickler still guards the file
            warnings.filterwarnings("ignore", message="Detected pickle protocol", category=UserWarning)
            state = torch.load(str(path), map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as error:
        if _would_run_code(path, error):
            raise InputError(
                "refusing to load this checkpoint: it would run code when unpickled. Only tensors are "
                "accepted; re-save it with safetensors or torch.save(model.state_dict()). "
                f"({_reason(error)})",
                path,
            ) from None
        raise InputError(f"not a readable PyTorch checkpoint ({_reason(error)})", path) from None
    except (RuntimeError, EOFError, OSError) as error:
        raise InputError(f"not a readable PyTorch checkpoint ({_first_line(error)})", path) from error
    state = state.get("state_dict", state) if isinstance(state, dict) else state
    if not isinstance(state, dict) or not all(isinstance(v, torch.Tensor) for v in state.values()):
        raise InputError("the checkpoint holds no state dict of tensors", path)
    return state


def load_into(network: torch.nn.Module, path: str | Path) -> torch.nn.Module:
    """Load weights from ``path`` into ``network`` (strictly: names and shapes must match)."""
    state = load_weights(path)
    try:
        network.load_state_dict(state, strict=True)
    except RuntimeError as error:
        raise InputError(f"weights do not fit the network: {_first_line(error)}", path) from error
    return network


def save_weights(network: torch.nn.Module, path: str | Path) -> Path:
    """Save ``network``'s state dict as safetensors (the only format medview writes)."""
    state = {name: tensor.detach().cpu().contiguous() for name, tensor in network.state_dict().items()}
    save_file(state, str(path))
    return Path(path)


def _would_run_code(path: Path, error: pickle.UnpicklingError) -> bool:
    """True when the refused file imports or calls something: torch names the blocked global inside a
    zip checkpoint; a bare pickle is read opcode by opcode (never executed) to find out."""
    if "GLOBAL" in str(error):
        return True
    if zipfile.is_zipfile(path):
        return False
    try:
        return any(op.name in _CODE_OPCODES for op, _, _ in pickletools.genops(path.read_bytes()))
    except (ValueError, EOFError):
        return False


def _reason(error: BaseException) -> str:
    lines = [line.strip() for line in str(error).splitlines() if line.strip()]
    detail = [line for line in lines if "GLOBAL" in line or line.startswith("Unsupported")]
    return (detail or lines or [type(error).__name__])[0]


def _first_line(error: BaseException) -> str:
    return str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
