"""What a DICOM header says about the size of a pixel and the unit of its values, or that it says nothing.

A viewer that invents millimetres misleads every measurement made with it, so a pixel size is taken
only from a valid calibration: PixelSpacing (in the patient), the enhanced multi-frame Pixel Measures,
or ImagerPixelSpacing (at the detector, as radiology viewers use it when PixelSpacing is absent, with
a note on magnification). Missing, zero, negative or non-numeric values mean "unknown".
"""

from __future__ import annotations

import math
import warnings

from pydicom.dataset import Dataset

PixelSize = tuple[float, float]
"""(row spacing, column spacing) in mm: the distance between rows, then between columns."""

_HOUNSFIELD = "HU"
_UNSPECIFIED = "US"


def pixel_spacing(header: Dataset) -> tuple[PixelSize | None, list[str]]:
    """The calibrated pixel size of an image (mm), or ``None``, and the notes the user must read.

    Sources, first valid wins: PixelSpacing; PixelSpacing of the shared or first per-frame Pixel
    Measures (enhanced multi-frame); ImagerPixelSpacing divided by EstimatedRadiographicMagnificationFactor
    when that is given (mammography), else as it is, measured at the detector.
    """
    notes: list[str] = []
    direct = _valid_pair(_get(header, "PixelSpacing"))
    if direct is None:
        direct = _valid_pair(_get(_pixel_measures(header), "PixelSpacing"))
    if direct is not None:
        return direct, notes
    imager = _valid_pair(_get(header, "ImagerPixelSpacing"))
    if imager is None:
        if _has_value(header, "PixelSpacing") or _has_value(header, "ImagerPixelSpacing"):
            notes.append(
                f"the pixel spacing in the file ({_shown(header)}) is not a valid size: "
                "the pixel size is unknown, so nothing is measured in mm"
            )
        return None, notes
    factor = _positive(_get(header, "EstimatedRadiographicMagnificationFactor"))
    if factor is not None and factor != 1.0:
        notes.append(
            f"pixel size from ImagerPixelSpacing ({imager[0]:g} x {imager[1]:g} mm at the detector) "
            f"divided by the estimated radiographic magnification {factor:g}: sizes are estimates "
            "at the patient"
        )
        return (imager[0] / factor, imager[1] / factor), notes
    notes.append(
        f"pixel size from ImagerPixelSpacing ({imager[0]:g} x {imager[1]:g} mm): measured at the "
        "detector, so sizes in the patient are smaller by the (unknown) radiographic magnification"
    )
    return imager, notes


def value_unit(header: Dataset) -> str:
    """The unit of the modality values: ``HU`` only when RescaleType says so, or for CT without one.

    Other RescaleTypes are returned as written (``%``, ``ml/100ml/min``...); ``US`` (unspecified) and
    images without a rescale unit give ``""``, shown as a bare value.
    """
    rescale_type = _get(header, "RescaleType")
    if rescale_type is None:
        transform = _functional_item(header, "PixelValueTransformationSequence")
        rescale_type = transform.get("RescaleType") if transform is not None else None
    rescale_type = str(rescale_type or "").strip()
    if rescale_type.upper() == _HOUNSFIELD:
        return _HOUNSFIELD
    if rescale_type.upper() == _UNSPECIFIED:
        return ""
    if rescale_type:
        return rescale_type
    return _HOUNSFIELD if str(header.get("Modality", "")).upper() == "CT" else ""


def _get(header: Dataset, keyword: str):
    """An element's value; malformed values (``abc`` in a decimal string) come back as text, quietly."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            return header.get(keyword)
        except (ValueError, TypeError, OverflowError):
            return None


def _pixel_measures(header: Dataset) -> Dataset:
    item = _functional_item(header, "PixelMeasuresSequence")
    return item if item is not None else Dataset()


def _functional_item(header: Dataset, name: str) -> Dataset | None:
    """The shared item of an enhanced multi-frame functional group, else the first frame's."""
    for groups in ("SharedFunctionalGroupsSequence", "PerFrameFunctionalGroupsSequence"):
        items = header.get(groups)
        if not items:
            continue
        item = items[0]
        if name in item and item[name].value:
            return item[name].value[0]
    return None


def _valid_pair(value) -> PixelSize | None:
    if value is None:
        return None
    try:
        values = [float(v) for v in (value if _is_multi(value) else [value])]
    except (TypeError, ValueError):
        return None
    if len(values) != 2 or not all(math.isfinite(v) and v > 0 for v in values):
        return None
    return values[0], values[1]


def _positive(value) -> float | None:
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return number if math.isfinite(number) and number > 0 else None


def _is_multi(value) -> bool:
    return hasattr(value, "__iter__") and not isinstance(value, (str, bytes))


def _has_value(header: Dataset, keyword: str) -> bool:
    element = _get(header, keyword)
    return element is not None and str(element).strip() not in ("", "[]")


def _shown(header: Dataset) -> str:
    for keyword in ("PixelSpacing", "ImagerPixelSpacing"):
        if _has_value(header, keyword):
            value = _get(header, keyword)
            text = "\\".join(str(v) for v in value) if _is_multi(value) else str(value)
            return f"{keyword} {text}"
    return "none"
