"""Small scan files the io tests make themselves: DICOM slices and series, phantoms."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
from pydicom.dataset import FileDataset, FileMetaDataset
from pydicom.uid import CTImageStorage, ExplicitVRLittleEndian, generate_uid

from medview.core.geometry import Geometry
from medview.core.scan import Scan

# An oblique orientation: rows tilted 30 degrees about S, columns tilted 20 degrees towards S.
_ROW = np.array([np.cos(np.pi / 6), np.sin(np.pi / 6), 0.0])
_COLUMN = np.cross(np.array([0.0, 0.0, 1.0]), _ROW)
_COLUMN = np.cos(np.pi / 9) * _COLUMN - np.sin(np.pi / 9) * np.array([0.0, 0.0, 1.0])
OBLIQUE = tuple(np.round(np.concatenate([_ROW, _COLUMN]), 6))
AXIAL = (1.0, 0.0, 0.0, 0.0, 1.0, 0.0)


def phantom(shape: Sequence[int] = (7, 12, 10), seed: int = 0) -> np.ndarray:
    """An asymmetric int16 volume (no two slices, rows or columns alike)."""
    rng = np.random.default_rng(seed)
    z, y, x = np.indices(shape)
    return (z * 100 + y * 7 + x * 3 + rng.integers(0, 3, size=shape)).astype(np.int16)


def oblique_scan(shape: Sequence[int] = (6, 9, 11)) -> Scan:
    """Anisotropic, oblique, asymmetric phantom scan for geometry round trips."""
    rotation = np.linalg.qr(np.array([[0.9, 0.3, 0.1], [-0.2, 0.8, 0.4], [0.1, -0.5, 0.85]]))[0]
    rotation = rotation * np.sign(np.diag(rotation))
    assert np.linalg.det(rotation) > 0
    geometry = Geometry.from_spacing((3.0, 0.7, 1.3), (-41.5, 12.25, 88.0), rotation)
    return Scan(phantom(shape).astype(np.float32), geometry, modality="MR", name="phantom")


def write_slice(
    path: Path,
    pixels: np.ndarray,
    position: Sequence[float] | None,
    orientation: Sequence[float] | None = AXIAL,
    pixel_spacing: Sequence[float] = (0.8, 0.6),
    series_uid: str = "1.2.826.0.1.3680043.10.1.1",
    instance: int = 1,
    **attributes,
) -> Path:
    """Write one uncompressed slice; ``attributes`` override or add DICOM keywords."""
    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID = CTImageStorage
    meta.MediaStorageSOPInstanceUID = generate_uid()
    meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds = FileDataset(str(path), {}, file_meta=meta, preamble=b"\0" * 128)
    ds.SOPClassUID = CTImageStorage
    ds.SOPInstanceUID = meta.MediaStorageSOPInstanceUID
    ds.StudyInstanceUID = "1.2.826.0.1.3680043.10.1.9"
    ds.SeriesInstanceUID = series_uid
    ds.Modality = "CT"
    ds.SeriesDescription = "test series"
    ds.InstanceNumber = instance
    if position is not None:
        ds.ImagePositionPatient = [round(float(v), 4) for v in position]
    if orientation is not None:
        ds.ImageOrientationPatient = list(orientation)
    ds.PixelSpacing = list(pixel_spacing)
    ds.SliceThickness = 99.0  # deliberately wrong: spacing comes from positions
    ds.Rows, ds.Columns = pixels.shape
    ds.SamplesPerPixel = 1
    ds.PhotometricInterpretation = "MONOCHROME2"
    ds.BitsAllocated = ds.BitsStored = pixels.dtype.itemsize * 8
    ds.HighBit = ds.BitsStored - 1
    ds.PixelRepresentation = int(pixels.dtype.kind == "i")
    ds.RescaleSlope, ds.RescaleIntercept = 1, 0
    for keyword, value in attributes.items():
        setattr(ds, keyword, value)
    if "PixelData" not in attributes:
        ds.PixelData = np.ascontiguousarray(pixels).tobytes()
    path.parent.mkdir(parents=True, exist_ok=True)
    ds.save_as(path, enforce_file_format=True)
    return path


def write_series(
    folder: Path,
    volume: np.ndarray,
    slice_spacing: float = 2.5,
    origin: Sequence[float] = (-20.0, 30.0, -100.0),
    orientation: Sequence[float] = AXIAL,
    offsets: Sequence[float] | None = None,
    seed: int = 1,
    **attributes,
) -> list[Path]:
    """Write ``volume`` as one file per slice, file names and InstanceNumbers in shuffled order.

    ``offsets`` (mm along the normal) overrides the regular ``slice_spacing`` positions.
    """
    row, column = np.asarray(orientation[:3], float), np.asarray(orientation[3:], float)
    normal = np.cross(row, column)
    normal /= np.linalg.norm(normal)
    offsets = np.arange(len(volume)) * slice_spacing if offsets is None else offsets
    order = np.random.default_rng(seed).permutation(len(volume))
    paths = []
    for rank, index in enumerate(order):
        position = np.asarray(origin, float) + offsets[index] * normal
        name = f"IM{rank:04d}.dcm"
        paths.append(
            write_slice(folder / name, volume[index], position, orientation, instance=rank + 1, **attributes)
        )
    return paths
