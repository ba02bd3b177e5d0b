"""What a plugin declares: normalisation, input spec, and which scans it fits."""

from __future__ import annotations

import numpy as np
import pytest

from medview.core.errors import InputError
from medview.core.geometry import Geometry
from medview.core.labels import preset
from medview.core.scan import Scan
from medview.models.api import InputSpec, ModelInfo, Normalisation, check_fits


@pytest.mark.parametrize(
    ("normalisation", "values", "expected"),
    [
        (Normalisation("range", -1000, 1000), [-2000, -1000, 0, 500, 3000], [0, 0, 0.5, 0.75, 1]),
        (Normalisation("zscore"), [1, 3], [-1, 1]),
        (Normalisation(), [7, -2], [7, -2]),
    ],
)
def test_normalisation(normalisation, values, expected):
    assert np.allclose(normalisation.apply(np.array(values)), expected)


def test_bad_declarations_are_refused():
    with pytest.raises(ValueError, match="high > low"):
        Normalisation("range", 5, 5)
    with pytest.raises(ValueError, match="patch_size"):
        InputSpec(3, patch_size=(64, 64))
    with pytest.raises(ValueError, match="task must be one of"):
        ModelInfo("x", "1", "regression", ("CT",), InputSpec(2))


def test_input_spec_round_trips_through_json_dict():
    spec = InputSpec(3, 1, (2.0, 1.0, 1.0), (32, 64, 64), Normalisation("range", -200, 300))
    assert InputSpec.from_dict(spec.to_dict()) == spec


CT_INFO = ModelInfo("seg", "2.1", "segmentation", ("CT",), InputSpec(3), preset("liver-lesion"))


@pytest.mark.parametrize(
    ("modality", "shape", "rgb", "fits"),
    [
        ("CT", (4, 5, 6), False, True),
        ("OT", (4, 5, 6), False, True),  # unknown modality (NIfTI): dimension decides
        ("MR", (4, 5, 6), False, False),
        ("CT", (5, 6), False, False),
        ("CT", (4, 5, 6, 3), True, False),
    ],
)
def test_fits(modality, shape, rgb, fits):
    geometry = Geometry.identity(len(shape) - int(rgb))
    scan = Scan(np.zeros(shape), geometry, modality, "s", rgb=rgb, source="s.nii.gz")
    assert CT_INFO.fits(scan) is fits
    if not fits:
        with pytest.raises(InputError, match=r"s.nii.gz: model seg 2.1 takes 3-D grey CT images"):
            check_fits(CT_INFO, scan)


def test_info_lists_what_the_cli_prints():
    listed = CT_INFO.to_dict()
    assert (listed["name"], listed["version"], listed["task"], listed["modalities"]) == (
        "seg",
        "2.1",
        "segmentation",
        ["CT"],
    )
    assert CT_INFO.title == "seg 2.1"
