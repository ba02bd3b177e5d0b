"""Write a 2D greyscale scan as a DICOM projection image (DX, CR, MG or secondary capture).

Radiographs leave medview the way radiology systems exchange them, with their PixelSpacing, so that
they reopen here and elsewhere with the same pixel size; a scan of unknown pixel size is written
without one rather than with an invented calibration.
"""

from __future__ import annotations

import datetime
from pathlib import Path

import numpy as np
from pydicom.dataset import FileDataset, FileMetaDataset
from pydicom.uid import ExplicitVRLittleEndian, generate_uid

from medview.core.scan import Scan
from medview.io.atomic import write_with_atomic
from medview.io.format_capacity import writable_array

STORAGE_CLASSES = {
    "DX": "1.2.840.10008.5.1.4.1.1.1.1",  # Digital X-Ray Image Storage - For Presentation
    "CR": "1.2.840.10008.5.1.4.1.1.1",  # Computed Radiography Image Storage
    "MG": "1.2.840.10008.5.1.4.1.1.1.2",  # Digital Mammography X-Ray Image Storage - For Presentation
}
_SECONDARY_CAPTURE = "1.2.840.10008.5.1.4.1.1.7"


def write_dicom_image(scan: Scan, path: str | Path) -> Path:
    """Write ``scan`` (2D, greyscale, integer values) as one uncompressed DICOM file, atomically.

    Raises:
        InputError: before anything is written, when the scan is not a 2D greyscale image whose
            values all fit 16-bit integers (:mod:`medview.io.format_capacity`).
    """
    path = Path(path)
    pixels = writable_array(
        scan.array, path, kind="scan", ndim=scan.geometry.ndim, rgb=scan.rgb, time_axis=scan.has_time_axis
    )
    dataset = _dataset(scan, path)
    dataset.Rows, dataset.Columns = pixels.shape
    dataset.SamplesPerPixel = 1
    dataset.PhotometricInterpretation = "MONOCHROME2"
    dataset.BitsAllocated = dataset.BitsStored = 16
    dataset.HighBit = 15
    dataset.PixelRepresentation = int(pixels.dtype.kind == "i")
    if scan.spacing_known:
        spacing = [round(float(v), 6) for v in scan.geometry.spacing]
        dataset.PixelSpacing = spacing
        if scan.modality in ("DX", "CR", "MG"):
            dataset.ImagerPixelSpacing = spacing
            dataset.PixelSpacingCalibrationType = "GEOMETRY"
    if scan.window is not None:
        dataset.WindowCenter, dataset.WindowWidth = round(scan.window.center, 3), round(scan.window.width, 3)
        dataset.WindowCenterWidthExplanation = scan.window.name or "default"
    dataset.PixelData = np.ascontiguousarray(pixels).tobytes()
    write_with_atomic(path, lambda temporary: dataset.save_as(temporary, enforce_file_format=True))
    return path


def _dataset(scan: Scan, path: Path) -> FileDataset:
    sop_class = STORAGE_CLASSES.get(scan.modality, _SECONDARY_CAPTURE)
    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID = sop_class
    meta.MediaStorageSOPInstanceUID = generate_uid()
    meta.TransferSyntaxUID = ExplicitVRLittleEndian
    dataset = FileDataset(str(path), {}, file_meta=meta, preamble=b"\0" * 128)
    now = datetime.datetime.now()
    dataset.SOPClassUID = sop_class
    dataset.SOPInstanceUID = meta.MediaStorageSOPInstanceUID
    dataset.StudyInstanceUID, dataset.SeriesInstanceUID = generate_uid(), generate_uid()
    dataset.Modality = scan.modality if sop_class != _SECONDARY_CAPTURE else "OT"
    dataset.ConversionType = "WSD" if sop_class == _SECONDARY_CAPTURE else None
    if dataset.ConversionType is None:
        del dataset.ConversionType
    dataset.PatientName, dataset.PatientID = scan.name or "anonymous", scan.name or "anonymous"
    dataset.StudyDate = dataset.ContentDate = now.strftime("%Y%m%d")
    dataset.StudyTime = dataset.ContentTime = now.strftime("%H%M%S")
    dataset.SeriesDescription = scan.name
    dataset.SeriesNumber = dataset.InstanceNumber = 1
    if sop_class in (STORAGE_CLASSES["DX"], STORAGE_CLASSES["MG"]):
        dataset.PresentationIntentType = "FOR PRESENTATION"
    dataset.ImageType = ["DERIVED", "PRIMARY"]
    return dataset
