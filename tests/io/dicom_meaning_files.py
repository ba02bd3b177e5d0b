"""DICOM files that carry meaning beyond their pixels, made by the tests: SEGs over a small CT series,
overlay planes, and a tiled whole-slide image."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import highdicom as hd
import numpy as np
import pydicom
from io_scan_files import write_slice
from pydicom.dataset import Dataset, FileDataset, FileMetaDataset
from pydicom.sequence import Sequence as DicomSequence
from pydicom.sr.codedict import codes
from pydicom.uid import ExplicitVRLittleEndian, generate_uid

CT_SPACING = (2.5, 0.8, 0.7)  # slice, row, column (mm)
CT_ORIGIN_XYZ = (-20.0, 30.0, -100.0)
WHOLE_SLIDE = "1.2.840.10008.5.1.4.1.1.77.1.6"
SEG_COLOURS = ((200, 80, 60), (255, 220, 0), (40, 120, 230))


def write_ct(folder: Path, volume: np.ndarray) -> list[Dataset]:
    """An axial int16 CT series, one file per slice written in reverse order; its headers, sorted."""
    series, study, frame = generate_uid(), generate_uid(), generate_uid()
    for index, pixels in enumerate(volume):
        position = (*CT_ORIGIN_XYZ[:2], CT_ORIGIN_XYZ[2] + index * CT_SPACING[0])
        write_slice(
            folder / f"{len(volume) - index:03d}.dcm",
            pixels.astype(np.int16),
            position,
            pixel_spacing=CT_SPACING[1:],
            series_uid=series,
            instance=index + 1,
            StudyInstanceUID=study,
            FrameOfReferenceUID=frame,
            PatientID="P1",
            PatientName="Test^Patient",
            PatientSex="O",
            PatientBirthDate="",
            StudyID="1",
            StudyDate="",
            StudyTime="",
            AccessionNumber="",
            ReferringPhysicianName="",
            SeriesNumber=3,
            Manufacturer="test",
        )
    headers = [pydicom.dcmread(path) for path in folder.glob("*.dcm")]
    return sorted(headers, key=lambda header: float(header.ImagePositionPatient[2]))


def write_seg(
    path: Path,
    sources: Sequence[Dataset],
    masks: np.ndarray,
    names: Sequence[str],
    kind: str = "BINARY",
    series_description: str = "organs",
    category=codes.SCT.Tissue,
    property_types: Sequence | None = None,
) -> Path:
    """A SEG of ``sources`` with highdicom: ``masks`` is ``(frames, rows, columns, segments)``,
    0/1 (or fractions in [0, 1] for ``FRACTIONAL``); ``LABELMAP`` takes one label value per pixel.
    Segments are coded ``category`` / ``property_types`` (default: Tissue)."""
    types = property_types or [codes.SCT.Tissue] * len(names)
    descriptions = [
        hd.seg.SegmentDescription(
            segment_number=number,
            segment_label=name,
            segmented_property_category=category,
            segmented_property_type=types[number - 1],
            algorithm_type="MANUAL",
            display_color=hd.color.CIELabColor.from_rgb(*SEG_COLOURS[number - 1]),
        )
        for number, name in enumerate(names, start=1)
    ]
    pixels = masks
    if kind == "LABELMAP":
        pixels = (masks * np.arange(1, masks.shape[-1] + 1)).max(axis=-1).astype(np.uint8)
    elif kind == "FRACTIONAL":
        pixels = masks.astype(np.float32)
    else:
        pixels = masks.astype(np.uint8)
    seg = hd.seg.Segmentation(
        source_images=list(sources),
        pixel_array=pixels,
        segmentation_type=kind,
        segment_descriptions=descriptions,
        series_instance_uid=generate_uid(),
        series_number=100,
        sop_instance_uid=generate_uid(),
        instance_number=1,
        manufacturer="test",
        manufacturer_model_name="test",
        software_versions="1",
        device_serial_number="1",
        series_description=series_description,
    )
    path.parent.mkdir(parents=True, exist_ok=True)
    seg.save_as(path)
    return path


def add_overlay(
    path: Path,
    bitmap: np.ndarray,
    origin: tuple[int, int],
    group: int = 0x6000,
    description: str | None = None,
    embedded_bit: int | None = None,
) -> None:
    """Add an overlay plane to a DICOM file: OverlayData, or bit ``embedded_bit`` of its pixels."""
    ds = pydicom.dcmread(path)
    rows, columns = bitmap.shape
    ds.add_new((group, 0x0010), "US", rows)
    ds.add_new((group, 0x0011), "US", columns)
    ds.add_new((group, 0x0040), "CS", "G")
    ds.add_new((group, 0x0050), "SS", list(origin))
    if description is not None:
        ds.add_new((group, 0x0022), "LO", description)
    if embedded_bit is None:
        ds.add_new((group, 0x0100), "US", 1)
        ds.add_new((group, 0x0102), "US", 0)
        packed = np.packbits(bitmap.astype(np.uint8).ravel(), bitorder="little")
        ds.add_new((group, 0x3000), "OW", packed.tobytes() + b"\0" * (len(packed) % 2))
    else:
        ds.add_new((group, 0x0100), "US", ds.BitsAllocated)
        ds.add_new((group, 0x0102), "US", embedded_bit)
        stored = np.frombuffer(ds.PixelData, dtype=np.uint16).reshape(rows, columns).copy()
        stored[bitmap.astype(bool)] |= np.uint16(1 << embedded_bit)
        ds.PixelData = stored.tobytes()
    ds.save_as(path)


def write_slide_level(
    path: Path,
    image: np.ndarray,
    tile: int = 16,
    pixel_mm: float = 0.00025,
    uids: tuple[str, str, str] | None = None,
    sparse_order: Sequence[int] | None = None,
    resampled: bool = False,
) -> Path:
    """One level of a whole-slide image: RGB 8-bit uncompressed tiles, padded at the right and bottom.

    TILED_FULL (row-major tiles) by default; ``sparse_order`` writes TILED_SPARSE with only those
    tiles (row-major indices), in that order, each placed by its PlanePositionSlideSequence.
    ``resampled`` marks a lower pyramid level.
    """
    rows, columns = image.shape[:2]
    down, across = -(-rows // tile), -(-columns // tile)
    padded = np.zeros((down * tile, across * tile, 3), dtype=np.uint8)
    padded[:rows, :columns] = image
    tiles = padded.reshape(down, tile, across, tile, 3).transpose(0, 2, 1, 3, 4).reshape(-1, tile, tile, 3)
    study, series, frame = uids or (generate_uid(), generate_uid(), generate_uid())
    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID = WHOLE_SLIDE
    meta.MediaStorageSOPInstanceUID = generate_uid()
    meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds = FileDataset(str(path), {}, file_meta=meta, preamble=b"\0" * 128)
    ds.SOPClassUID, ds.SOPInstanceUID = WHOLE_SLIDE, meta.MediaStorageSOPInstanceUID
    ds.StudyInstanceUID, ds.SeriesInstanceUID, ds.FrameOfReferenceUID = study, series, frame
    ds.Modality, ds.SeriesDescription, ds.InstanceNumber = "SM", "test slide", 1
    ds.ImageType = (
        ["DERIVED", "PRIMARY", "VOLUME", "RESAMPLED"]
        if resampled
        else ["ORIGINAL", "PRIMARY", "VOLUME", "NONE"]
    )
    ds.PatientID, ds.PatientName, ds.ContainerIdentifier = "P1", "Slide^Test", "slide-1"
    ds.TotalPixelMatrixColumns, ds.TotalPixelMatrixRows = columns, rows
    ds.TotalPixelMatrixFocalPlanes = ds.NumberOfFocalPlanes = ds.NumberOfOpticalPaths = 1
    optical_path = Dataset()
    optical_path.OpticalPathIdentifier = "1"
    ds.OpticalPathSequence = DicomSequence([optical_path])
    ds.ImagedVolumeWidth, ds.ImagedVolumeHeight, ds.ImagedVolumeDepth = (
        columns * pixel_mm,
        rows * pixel_mm,
        0.001,
    )
    origin = Dataset()
    origin.XOffsetInSlideCoordinateSystem, origin.YOffsetInSlideCoordinateSystem = 20.0, 40.0
    ds.TotalPixelMatrixOriginSequence = DicomSequence([origin])
    ds.ImageOrientationSlide = [0, -1, 0, -1, 0, 0]
    measures = Dataset()
    measures.PixelSpacing, measures.SliceThickness = [pixel_mm, pixel_mm], 0.001
    shared = Dataset()
    shared.PixelMeasuresSequence = DicomSequence([measures])
    ds.SharedFunctionalGroupsSequence = DicomSequence([shared])
    ds.DimensionOrganizationType = "TILED_FULL"
    if sparse_order is not None:
        ds.DimensionOrganizationType = "TILED_SPARSE"
        ds.PerFrameFunctionalGroupsSequence = DicomSequence(
            [_tile_position(index, across, tile) for index in sparse_order]
        )
        tiles = tiles[list(sparse_order)]
    ds.NumberOfFrames, ds.Rows, ds.Columns = len(tiles), tile, tile
    ds.SamplesPerPixel, ds.PhotometricInterpretation, ds.PlanarConfiguration = 3, "RGB", 0
    ds.BitsAllocated, ds.BitsStored, ds.HighBit, ds.PixelRepresentation = 8, 8, 7, 0
    ds.BurnedInAnnotation = ds.SpecimenLabelInImage = "NO"
    ds.VolumetricProperties = "VOLUME"
    ds.PixelData = tiles.tobytes()
    path.parent.mkdir(parents=True, exist_ok=True)
    ds.save_as(path, enforce_file_format=True)
    return path


def _tile_position(index: int, across: int, tile: int) -> Dataset:
    row, column = divmod(index, across)
    position = Dataset()
    position.ColumnPositionInTotalImagePixelMatrix = column * tile + 1
    position.RowPositionInTotalImagePixelMatrix = row * tile + 1
    position.XOffsetInSlideCoordinateSystem = position.YOffsetInSlideCoordinateSystem = 0.0
    position.ZOffsetInSlideCoordinateSystem = 0.0
    frame = Dataset()
    frame.PlanePositionSlideSequence = DicomSequence([position])
    return frame
