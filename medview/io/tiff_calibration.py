"""Microns per pixel of a TIFF, only when the file states a microscope calibration.

OME-XML physical sizes, an Aperio ``MPP =`` description and ImageJ's micron unit are calibrations.
The baseline resolution tags in inch or cm usually hold a screen or print setting (72, 96, 300 dpi)
that every image editor writes; they count only when the pixel they imply is microscope-sized, as a
slide scanner's export writes them (e.g. 40,000 pixels per cm = 0.25 µm).
"""

from __future__ import annotations

import re

import tifffile

MicronsPerPixel = tuple[float, float]
"""(y, x) microns per pixel."""

# A pixel larger than this from inch/cm resolution tags is a dpi setting, not a calibration.
MAX_CALIBRATED_MICRONS = 20.0
_MICRONS_PER = {2: 25400.0, 3: 10000.0}  # ResolutionUnit inch, centimetre
_OME_UNITS = {"µm": 1.0, "um": 1.0, "nm": 1e-3, "mm": 1e3, "cm": 1e4, "m": 1e6}


def tiff_microns_per_pixel(tiff: tifffile.TiffFile) -> tuple[MicronsPerPixel | None, str]:
    """The calibration of the first page, or ``None`` and a note saying why none is trusted."""
    ome = _ome(tiff)
    if ome is not None:
        return ome, ""
    page = tiff.pages.first
    match = re.search(r"MPP\s*=\s*([0-9.]+(?:[eE][-+]?\d+)?)", page.description or "")
    if match and float(match.group(1)) > 0:
        return (float(match.group(1)),) * 2, ""
    imagej = _imagej(tiff)
    if imagej is not None:
        return imagej, ""
    resolution = _resolution_tags(page)
    if resolution is None:
        return None, ""
    (y, x), unit_name, dpi = resolution
    if max(y, x) <= MAX_CALIBRATED_MICRONS:
        return (y, x), ""
    return None, (
        f"the TIFF's resolution ({dpi:g} pixels per {unit_name}) is a screen or print setting, not a "
        "microscope calibration: the pixel size is unknown"
    )


def _ome(tiff: tifffile.TiffFile) -> MicronsPerPixel | None:
    if not (tiff.is_ome and tiff.ome_metadata):
        return None
    sizes = []
    for axis in "YX":
        size = re.search(rf'PhysicalSize{axis}="([0-9.eE+-]+)"', tiff.ome_metadata)
        unit = re.search(rf'PhysicalSize{axis}Unit="([^"]+)"', tiff.ome_metadata)
        factor = _OME_UNITS.get(unit.group(1) if unit else "µm")
        if size is None or factor is None or not float(size.group(1)) > 0:
            return None
        sizes.append(float(size.group(1)) * factor)
    return sizes[0], sizes[1]


def _imagej(tiff: tifffile.TiffFile) -> MicronsPerPixel | None:
    metadata = tiff.imagej_metadata or {}
    if str(metadata.get("unit", "")).lower() not in ("micron", "microns", "µm", "um", "\\u00b5m"):
        return None
    page = tiff.pages.first
    x_res, y_res = page.tags.get("XResolution"), page.tags.get("YResolution")
    if not (x_res and y_res):
        return None
    x, y = (_ratio(tag.value) for tag in (x_res, y_res))
    return (1.0 / y, 1.0 / x) if x > 0 and y > 0 else None


def _resolution_tags(page) -> tuple[MicronsPerPixel, str, float] | None:
    unit = page.tags.get("ResolutionUnit")
    microns = _MICRONS_PER.get(int(unit.value) if unit else 2)  # TIFF's default unit is the inch
    x_res, y_res = page.tags.get("XResolution"), page.tags.get("YResolution")
    if microns is None or not (x_res and y_res):
        return None
    x, y = (_ratio(tag.value) for tag in (x_res, y_res))
    if not (x > 0 and y > 0):
        return None
    return (microns / y, microns / x), "inch" if microns == 25400.0 else "cm", x


def _ratio(value) -> float:
    if isinstance(value, tuple) and len(value) == 2:
        return value[0] / value[1] if value[1] else 0.0
    return float(value)
