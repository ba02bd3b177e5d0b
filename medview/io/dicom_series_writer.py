"""Write a scan as a DICOM series, one file per slice, so DICOM SEG and RTSTRUCT can reference it.

A scan that came from NIfTI or NRRD has no DICOM images for a segmentation to point at; this
writes them with pydicom (as ``write_dicom_image`` does for 2D), which sets every attribute
highdicom and treatment planning systems read from the source images: positions, orientation,
pixel spacing, one frame of reference, study and series UIDs. CT scans become CT images, MR scans
of 16-bit integers MR images, anything else secondary captures that carry the same plane
attributes. Values that are not 16-bit integers are stored through RescaleSlope/RescaleIntercept
(CT and secondary capture hold them), so a reader gets each value back to half a slope. A 2D
scan becomes a series of one image in the plane z = 0 (``write_dicom_image`` writes projection
images for viewing, without the frame of reference and patient attributes a SEG copies).
"""

from __future__ import annotations

import datetime
import os
import shutil
import tempfile
from pathlib import Path

import numpy as np
from pydicom.dataset import Dataset, FileDataset, FileMetaDataset
from pydicom.uid import (
    CTImageStorage,
    ExplicitVRLittleEndian,
    MRImageStorage,
    SecondaryCaptureImageStorage,
    generate_uid,
)
from pydicom.valuerep import DSfloat

import medview
from medview.core.errors import InputError
from medview.core.geometry import Geometry
from medview.core.scan import Scan

_INT16 = (-(2**15), 2**15 - 1)
_UINT16 = (0, 2**16 - 1)


def dicom_copy_reason(scan: Scan) -> str | None:
    """Why ``scan`` cannot be written as a DICOM series (one sentence), or ``None`` when it can."""
    if scan.rgb or scan.has_time_axis:
        return "a DICOM copy holds greyscale scans without a time axis; this scan has colour or time frames"
    if scan.units == "pixel":
        return (
            "this scan's pixel size is unknown, and DICOM image positions need millimetres; "
            "open the scan from a file that states its voxel size"
        )
    if scan.units == "um" or scan.is_multiscale:
        return "a DICOM copy is for radiology scans; export annotations of slides as GeoJSON"
    if not np.issubdtype(scan.array.dtype, np.number):
        return "a DICOM copy holds numeric pixel values"
    return None


def write_dicom_series(scan: Scan, folder: str | Path) -> list[Dataset]:
    """Write ``scan`` into the new or empty ``folder``; returns the headers in array order.

    The headers are the written files' without pixel data (as ``source_datasets`` gives them),
    one per slice along array axis 0 (one for a 2D scan). The folder appears only when every file
    is written.

    Raises:
        InputError: the scan cannot be a DICOM series (:func:`dicom_copy_reason`), or ``folder``
            is a file or holds files.
    """
    folder = Path(folder)
    reason = dicom_copy_reason(scan)
    if reason:
        raise InputError(reason, folder)
    check_copy_folder(folder)
    array = np.asarray(scan.array)
    if array.dtype.kind == "f" and not np.all(np.isfinite(array)):
        raise InputError("the scan holds NaN or infinite values, which DICOM images cannot store", folder)
    pixels, slope, intercept = stored_pixels(array if array.ndim == 3 else array[np.newaxis])
    geometry = scan.geometry if scan.geometry.ndim == 3 else plane_as_volume(scan.geometry)
    uids = {"study": generate_uid(), "series": generate_uid(), "frame": generate_uid()}
    staging = Path(tempfile.mkdtemp(prefix=f".{folder.name}.", dir=_parent(folder)))
    headers = []
    try:
        for index, plane in enumerate(pixels):
            dataset = _slice(scan, geometry, index, uids, (slope, intercept))
            _set_pixels(dataset, plane)
            dataset.save_as(staging / f"{index + 1:04d}.dcm", enforce_file_format=True)
            del dataset.PixelData
            headers.append(dataset)
        staging.chmod(0o755)  # a temporary folder is private; the copy is for other programs too
        os.replace(staging, folder)  # onto a missing or empty folder
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return headers


def plane_as_volume(geometry: Geometry) -> Geometry:
    """A 3D geometry whose single slice (1 mm, at z = 0) is the 2D ``geometry``'s plane."""
    direction = np.eye(3)
    direction[1:, 1:] = geometry.direction
    return Geometry.from_spacing((1.0, *geometry.spacing), (0.0, *geometry.origin), direction)


def check_copy_folder(folder: Path) -> None:
    """Refuse a folder for a DICOM copy that is a file or already holds something."""
    if folder.exists() and (not folder.is_dir() or any(folder.iterdir())):
        raise InputError("the folder for the DICOM copy must be new or empty", folder)


def stored_pixels(array: np.ndarray) -> tuple[np.ndarray, float, float]:
    """``(16-bit stored values, slope, intercept)`` with ``value = stored * slope + intercept``.

    Whole numbers that fit 16 bits are stored as they are (slope 1); other values are spread over
    the unsigned 16-bit range, the slope and intercept rounded first to what a DICOM decimal
    string holds so that the stored values use the numbers a reader sees.
    """
    low, high = (float(array.min()), float(array.max())) if array.size else (0.0, 0.0)
    whole = array.dtype.kind in "iu" or bool(np.all(np.round(array) == array))
    for dtype, (smallest, largest) in ((np.uint16, _UINT16), (np.int16, _INT16)):
        if whole and smallest <= low and high <= largest:
            return array.astype(dtype), 1.0, 0.0
    intercept = float(DSfloat(low, auto_format=True))
    slope = float(DSfloat(max(high - intercept, 1e-12) / _UINT16[1], auto_format=True))
    stored = np.clip(np.round((array.astype(np.float64) - intercept) / slope), *_UINT16)
    return stored.astype(np.uint16), slope, intercept


def _parent(folder: Path) -> Path:
    folder.parent.mkdir(parents=True, exist_ok=True)
    return folder.parent


def _storage_class(scan: Scan, slope: float) -> str:
    if scan.modality == "CT":
        return CTImageStorage
    if scan.modality == "MR" and slope == 1.0:
        return MRImageStorage
    return SecondaryCaptureImageStorage


def _slice(
    scan: Scan, geometry: Geometry, index: int, uids: dict[str, str], rescale: tuple[float, float]
) -> FileDataset:
    """The header of slice ``index`` of ``geometry`` (3D), with ``rescale`` as (slope, intercept)."""
    sop_class = _storage_class(scan, rescale[0])
    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID = sop_class
    meta.MediaStorageSOPInstanceUID = generate_uid()
    meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds = FileDataset("", {}, file_meta=meta, preamble=b"\0" * 128)
    now = datetime.datetime.now()
    ds.SOPClassUID, ds.SOPInstanceUID = sop_class, meta.MediaStorageSOPInstanceUID
    ds.StudyInstanceUID, ds.SeriesInstanceUID = uids["study"], uids["series"]
    ds.FrameOfReferenceUID, ds.PositionReferenceIndicator = uids["frame"], ""
    ds.PatientID = (scan.name or "anonymous")[:60]
    ds.PatientName = ds.PatientID if "^" in ds.PatientID else f"{ds.PatientID}^"  # one name component
    ds.PatientBirthDate, ds.PatientSex, ds.ReferringPhysicianName = "", "", ""
    ds.StudyID, ds.AccessionNumber = "1", ""
    ds.StudyDate = ds.SeriesDate = ds.ContentDate = now.strftime("%Y%m%d")
    ds.StudyTime = ds.SeriesTime = ds.ContentTime = now.strftime("%H%M%S")
    ds.Modality = scan.modality or "OT"
    ds.SeriesDescription = f"DICOM copy of {scan.name}"[:64] if scan.name else "DICOM copy"
    ds.SeriesNumber, ds.InstanceNumber = 1, index + 1
    ds.Manufacturer, ds.SoftwareVersions = "medview", medview.__version__
    ds.ImageType = ["DERIVED", "SECONDARY"]
    if sop_class == CTImageStorage:
        ds.KVP, ds.AcquisitionNumber = "", ""
    elif sop_class == MRImageStorage:
        ds.ScanningSequence, ds.SequenceVariant, ds.ScanOptions = "RM", "NONE", ""
        ds.MRAcquisitionType, ds.EchoTime, ds.RepetitionTime, ds.EchoTrainLength = "3D", "", "", ""
    else:
        ds.ConversionType = "WSD"
    ds.ImagePositionPatient = _decimals(geometry.index_to_world([index, 0, 0])[::-1])
    ds.ImageOrientationPatient = _decimals(
        np.concatenate([geometry.direction[:, 2][::-1], geometry.direction[:, 1][::-1]])
    )
    ds.PixelSpacing = _decimals(geometry.spacing[1:])
    ds.SliceThickness = _decimals(geometry.spacing[:1])[0] if scan.geometry.ndim == 3 else ""
    if sop_class != MRImageStorage:
        ds.RescaleSlope, ds.RescaleIntercept = _decimals(rescale)
    return ds


def _set_pixels(ds: Dataset, plane: np.ndarray) -> None:
    ds.Rows, ds.Columns = plane.shape
    ds.SamplesPerPixel, ds.PhotometricInterpretation = 1, "MONOCHROME2"
    ds.BitsAllocated = ds.BitsStored = 16
    ds.HighBit = 15
    ds.PixelRepresentation = int(plane.dtype.kind == "i")
    ds.PixelData = np.ascontiguousarray(plane).tobytes()


def _decimals(values) -> list[DSfloat]:
    """DICOM decimal strings at the most precision their 16 characters hold."""
    return [DSfloat(float(value), auto_format=True) for value in values]
