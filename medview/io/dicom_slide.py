"""DICOM whole-slide images (VL Whole Slide Microscopy) as lazy multiscale scans.

A DICOM slide stores each pyramid level as one multi-frame instance of tiles, all instances in one
series; tiles on the right and bottom edges are padded beyond TotalPixelMatrixColumns x Rows, and
a TILED_SPARSE level places each tile by its PlanePositionSlideSequence. OpenSlide (which reads
DICOM since version 4) assembles the levels of a folder, crops each to its total pixel matrix and
places the tiles, so this module only picks the file, names the scan and keeps the series facts;
the levels themselves are dask arrays as for every other slide (:mod:`medview.io.slide`).
"""

from __future__ import annotations

from medview.core.scan import Scan
from medview.io.dicom_series import DicomSeries
from medview.io.slide import open_slide

WHOLE_SLIDE_STORAGE = "1.2.840.10008.5.1.4.1.1.77.1.6"
_PYRAMID_TYPES = ("VOLUME", "THUMBNAIL")  # ImageType value 3; LABEL and OVERVIEW are photographs


def is_slide_series(series: DicomSeries) -> bool:
    """True when a series holds a whole-slide microscopy image (its pyramid levels)."""
    return str(series.first.get("SOPClassUID", "")) == WHOLE_SLIDE_STORAGE


def read_slide(series: DicomSeries) -> Scan:
    """The slide of a whole-slide series: every pyramid level OpenSlide finds, full resolution first.

    Units are µm (OpenSlide's microns per pixel come from PixelSpacing in mm), modality ``SM``.

    Raises:
        ScanError: OpenSlide cannot read the slide.
    """
    levels = [
        (int(header.get("TotalPixelMatrixColumns", 0) or 0), path)
        for header, path in zip(series.headers, series.paths, strict=True)
        if _image_type(header) in _PYRAMID_TYPES
    ]
    path = max(levels, key=lambda level: level[0])[1] if levels else series.paths[0]
    scan = open_slide(path, backend="openslide")
    first = series.first
    description = str(first.get("SeriesDescription", ""))
    folder = path.parent if len(series.paths) > 1 else path
    scan.name = description or str(first.get("ContainerIdentifier", "") or "") or folder.name
    scan.source = str(folder)
    scan.metadata.update(
        {"series_uid": series.uid, "series_description": description, "files": len(series.paths)}
    )
    return scan


def _image_type(header) -> str:
    values = header.get("ImageType") or []
    return str(values[2]).upper() if len(values) > 2 else "VOLUME"
