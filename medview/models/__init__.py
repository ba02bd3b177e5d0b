"""Model plugins: the plugin API, discovery, safe weight loading and the inference engine.

Nothing here imports Qt; the GUI and the CLI are thin layers over :mod:`medview.models.registry`
and each plugin's ``predict(scan, progress, cancel)``.
"""

from medview.models.api import (
    InputSpec,
    ModelInfo,
    ModelPlugin,
    Normalisation,
    Prediction,
)
from medview.models.registry import BrokenPlugin, Registry

__all__ = [
    "BrokenPlugin",
    "InputSpec",
    "ModelInfo",
    "ModelPlugin",
    "Normalisation",
    "Prediction",
    "Registry",
]
