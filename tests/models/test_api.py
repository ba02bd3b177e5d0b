"""What a plugin declares: normalisation, input spec, and which scans it fits."""

from __future__ import annotations

import numpy as np
import pytest

from medview.core.errors import InputError
from medview.core.geometry import Geometry
from medview.core.labels import preset
from medview.core.scan import Scan
from medview.models.api import (
    InputSpec,
    ModelInfo,
    Normalisation,
    assume_spacing,
    check_fits,
    input_concerns,
    parse_spacing,
    unresolved_concerns,
)


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
    slide = InputSpec(2, 3, (0.5, 0.5), needs_spacing=False, spacing_units="um")
    assert InputSpec.from_dict(slide.to_dict()) == slide


@pytest.mark.parametrize(
    ("spec", "needs_spacing"),
    [
        (InputSpec(3, target_spacing=(2.0, 0.8, 0.8)), True),  # trained at a spacing: needs one
        (InputSpec(3), False),  # runs at the scan's own grid
        (InputSpec(3, target_spacing=(2.0, 0.8, 0.8), needs_spacing=False), False),
        (InputSpec(3, needs_spacing=True), True),
        (InputSpec.from_dict({"ndim": 2, "target_spacing": [1, 1]}), True),  # a sidecar that does not say
        (InputSpec.from_dict({"ndim": 2}), False),
    ],
)
def test_needs_spacing_defaults_to_having_a_target_spacing(spec, needs_spacing):
    assert spec.needs_spacing is needs_spacing


def test_spacing_units_are_mm_or_um():
    with pytest.raises(ValueError, match="spacing_units must be mm or um, not 'pixel'"):
        InputSpec(2, target_spacing=(1.0, 1.0), spacing_units="pixel")


CT_UNET = ModelInfo("ct-unet3d", "1", "segmentation", ("CT",), InputSpec(3, target_spacing=(2.0, 0.8, 0.8)))
DETECTOR = ModelInfo(
    "nodule-detector", "1", "detection", ("DX", "CR"), InputSpec(2, target_spacing=(1.6, 1.6))
)
NUCLEI = ModelInfo(
    "nuclei", "1", "segmentation", ("SM", "OT"), InputSpec(2, 3, (0.5, 0.5), spacing_units="um")
)
ANYTHING = ModelInfo("any", "1", "segmentation", ("*",), InputSpec(2, target_spacing=(1.0, 1.0)))
THRESHOLD = ModelInfo("threshold", "1", "segmentation", ("CT",), InputSpec(3))
UNKNOWN = "this scan's pixel size is unknown (pixel units)"


def scan_of(modality: str, units: str, ndim: int = 3, rgb: bool = False) -> Scan:
    shape = (4, 5, 6)[3 - ndim :] + ((3,) if rgb else ())
    return Scan(np.zeros(shape), Geometry.identity(ndim), modality, "s", rgb=rgb, units=units)


@pytest.mark.parametrize(
    ("info", "scan", "expected"),
    [
        (CT_UNET, scan_of("CT", "mm"), []),
        (CT_UNET, scan_of("OT", "mm"), []),  # a NIfTI volume: the modality is the user's to know
        (CT_UNET, scan_of("CT", "pixel"), [f"ct-unet3d was trained on CT at 2 x 0.8 x 0.8 mm; {UNKNOWN}"]),
        (DETECTOR, scan_of("MR", "mm", 2), ["nodule-detector was trained on DX/CR images; this scan is MR"]),
        (
            DETECTOR,
            scan_of("MR", "pixel", 2),
            [
                "nodule-detector was trained on DX/CR images; this scan is MR",
                f"nodule-detector was trained on DX/CR at 1.6 x 1.6 mm; {UNKNOWN}",
            ],
        ),
        (
            DETECTOR,
            scan_of("OT", "pixel", 2),
            [f"nodule-detector was trained on DX/CR at 1.6 x 1.6 mm; {UNKNOWN}"],
        ),
        (DETECTOR, scan_of("DX", "um", 2), []),  # a calibrated TIFF: converted, not a concern
        (
            NUCLEI,
            scan_of("OT", "pixel", 2, rgb=True),
            [f"nuclei was trained on SM/OT at 0.5 x 0.5 µm; {UNKNOWN}"],
        ),
        (ANYTHING, scan_of("US", "pixel", 2), [f"any was trained at 1 x 1 mm; {UNKNOWN}"]),
        (THRESHOLD, scan_of("CT", "pixel"), []),  # no spacing needed
        (THRESHOLD, scan_of("PT", "pixel"), ["threshold was trained on CT images; this scan is PT"]),
    ],
)
def test_input_concerns_say_what_is_wrong_in_words(info, scan, expected):
    assert [str(concern) for concern in input_concerns(info, scan)] == expected


def test_concerns_settled_by_the_user():
    scan = scan_of("MR", "pixel", 2)
    assert [c.kind for c in unresolved_concerns(DETECTOR, scan)] == ["modality", "spacing"]
    assert [c.kind for c in unresolved_concerns(DETECTOR, scan, any_modality=True)] == ["spacing"]
    assert [c.kind for c in unresolved_concerns(DETECTOR, scan, assumed_spacing=(0.2, 0.2))] == ["modality"]
    assert unresolved_concerns(DETECTOR, scan, True, (0.2, 0.2)) == []


@pytest.mark.parametrize(
    ("text", "ndim", "expected"),
    [
        ("0.5", 2, (0.5, 0.5)),
        ("2", 3, (2.0, 2.0, 2.0)),
        ("2,0.8,0.7", 3, (2.0, 0.8, 0.7)),
        (" 2, 0.8 ,0.7 ", 3, (2.0, 0.8, 0.7)),
        ("1e-3,2e-3", 2, (0.001, 0.002)),
    ],
)
def test_parse_spacing(text, ndim, expected):
    assert parse_spacing(text, ndim) == expected


@pytest.mark.parametrize("text", ["", "abc", "0", "-1", "1,2", "1,2,3,4", "nan", "inf", "1,,2"])
def test_parse_spacing_refuses_what_is_not_a_pixel_size(text):
    with pytest.raises(
        InputError, match=f"a pixel size is one number, or 3 comma-separated numbers.*{text!r}"
    ):
        parse_spacing(text, 3)


def test_assume_spacing_relabels_the_grid_and_keeps_the_pixels():
    array = np.arange(20, dtype=np.uint16).reshape(4, 5)
    scan = Scan(array, Geometry.from_spacing((1.0, 1.0), (3.0, 4.0)), "OT", "photo", units="pixel")
    assumed = assume_spacing(scan, (0.2, 0.3))
    assert assumed.array is scan.array
    assert assumed.units == "mm" and assumed.spacing_known
    assert assumed.spacing == pytest.approx((0.2, 0.3)) and assumed.geometry.origin == pytest.approx(
        (3.0, 4.0)
    )
    assert assumed.warnings == ["assumed pixel size 0.2 x 0.3 mm (the file gives none)"]
    assert (scan.units, scan.warnings, scan.spacing) == ("pixel", [], (1.0, 1.0))  # the original is untouched
    assert assume_spacing(scan, (0.5, 0.5), "um").units == "um"


def test_a_known_pixel_size_is_never_overridden():
    scan = Scan(
        np.zeros((4, 5)), Geometry.from_spacing((0.2, 0.2)), "DX", "chest", units="mm", source="c.dcm"
    )
    with pytest.raises(InputError, match=r"c.dcm: the pixel size of this scan is known \(0.2 x 0.2 mm\)"):
        assume_spacing(scan, (1.0, 1.0))


CT_INFO = ModelInfo("seg", "2.1", "segmentation", ("CT",), InputSpec(3), preset("liver-lesion"))


@pytest.mark.parametrize(
    ("modality", "shape", "rgb", "fits", "takes"),
    [
        ("CT", (4, 5, 6), False, True, True),
        ("OT", (4, 5, 6), False, True, True),  # unknown modality (NIfTI): dimension decides
        ("MR", (4, 5, 6), False, False, True),  # runs, but only if the user accepts (input_concerns)
        ("CT", (5, 6), False, False, False),
        ("CT", (4, 5, 6, 3), True, False, False),
    ],
)
def test_fits(modality, shape, rgb, fits, takes):
    geometry = Geometry.identity(len(shape) - int(rgb))
    scan = Scan(np.zeros(shape), geometry, modality, "s", rgb=rgb, source="s.nii.gz")
    assert CT_INFO.fits(scan) is fits
    assert CT_INFO.takes(scan) is takes
    if takes:
        check_fits(CT_INFO, scan)
    else:
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
