"""Training test fixtures: a tiny plugin in ``$MEDVIEW_PLUGIN_PATH`` and a workspace of small cases."""

from __future__ import annotations

from pathlib import Path

import pytest
from training_fixtures import make_plugin_folder, make_workspace

from medview.models.registry import PLUGIN_PATH_ENV


@pytest.fixture
def plugin_folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    folder = make_plugin_folder(tmp_path / "plugins")
    monkeypatch.setenv(PLUGIN_PATH_ENV, str(folder))
    return folder


@pytest.fixture
def workspace_dir(tmp_path: Path) -> Path:
    return make_workspace(tmp_path / "workspace")
