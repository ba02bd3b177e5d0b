"""Fixtures of the io tests; the file makers themselves live in ``io_scan_files``."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
from io_scan_files import write_series


@pytest.fixture
def dicom_series(tmp_path: Path) -> Callable[..., Path]:
    """Factory: ``dicom_series(volume, **kw)`` writes a shuffled series and returns its folder."""
    count = iter(range(1000))

    def make(volume: np.ndarray, folder: str | None = None, **kwargs) -> Path:
        target = tmp_path / (folder or f"series{next(count)}")
        write_series(target, volume, **kwargs)
        return target

    return make
