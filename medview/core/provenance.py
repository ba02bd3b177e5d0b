"""Who or what made an annotation or prediction, from what, and when."""

from __future__ import annotations

import getpass
from dataclasses import asdict, dataclass, field, replace
from datetime import datetime, timezone
from typing import Literal

Source = Literal["user", "model", "model+user", "import", "demo"]


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


def _user() -> str:
    try:
        return getpass.getuser()
    except OSError:
        return "unknown"


@dataclass(frozen=True)
class Provenance:
    """Origin of a label map or box set.

    Attributes:
        source: ``user`` (drawn), ``model`` (predicted), ``model+user`` (a prediction corrected by
            a person), ``import`` (read from a file), or ``demo`` (generated ground truth).
        author: the user name, or the model's ``name`` for predictions.
        model_version: the model version for ``model`` and ``model+user``.
        derived_from: what it was made from (a scan path, a previous annotation id).
        created: ISO 8601 UTC timestamp.
    """

    source: Source
    author: str = field(default_factory=_user)
    model_version: str | None = None
    derived_from: str | None = None
    created: str = field(default_factory=_now)

    @classmethod
    def drawn(cls, derived_from: str | None = None) -> Provenance:
        return cls("user", derived_from=derived_from)

    @classmethod
    def predicted(cls, model: str, version: str, derived_from: str | None = None) -> Provenance:
        return cls("model", author=model, model_version=version, derived_from=derived_from)

    def edited_by_user(self) -> Provenance:
        """The provenance after a person edits this annotation: a prediction becomes corrected."""
        source: Source = "model+user" if self.source in ("model", "model+user") else "user"
        return replace(self, source=source, created=_now())

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict) -> Provenance:
        return cls(**{key: data[key] for key in data if key in cls.__dataclass_fields__})
