"""Label maps as DICOM RT Structure Sets (RTSTRUCT), the contour format of radiotherapy systems.

highdicom does not write RTSTRUCT, so this module builds it with pydicom: one ROI per label
(name and colour from the label table), one CLOSED_PLANAR contour per region outline per slice,
traced with :func:`skimage.measure.find_contours` and placed in patient mm with the scan's
geometry. Holes are written as further contours on the same slice; reading fills contours with
the even-odd rule, as treatment planning systems do.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from pathlib import Path

import numpy as np
from pydicom import dcmread
from pydicom.dataset import Dataset, FileDataset, FileMetaDataset
from pydicom.errors import InvalidDicomError
from pydicom.sequence import Sequence as DicomSequence
from pydicom.uid import ExplicitVRLittleEndian, RTStructureSetStorage, generate_uid
from skimage.draw import polygon as fill_polygon
from skimage.measure import find_contours

import medview
from medview.annotations.nifti import AnnotationMismatchError
from medview.annotations.seg import source_datasets
from medview.core.errors import InputError
from medview.core.labels import LabelClass, LabelTable
from medview.core.provenance import Provenance
from medview.core.scan import LabelMap, Scan
from medview.io.atomic import write_with_atomic

_PATIENT_AND_STUDY = (
    "PatientName",
    "PatientID",
    "PatientBirthDate",
    "PatientSex",
    "StudyInstanceUID",
    "StudyDate",
    "StudyTime",
    "StudyID",
    "AccessionNumber",
    "ReferringPhysicianName",
)


def write_rtstruct(label_map: LabelMap, datasets: Sequence[Dataset], path: str | Path) -> Path:
    """Write the 3D ``label_map`` as an RTSTRUCT referencing the slices ``datasets`` (array order)."""
    path = Path(path)
    if label_map.array.ndim != 3 or label_map.array.shape[0] != len(datasets):
        raise AnnotationMismatchError(
            "an RTSTRUCT needs a 3D annotation with one slice per DICOM image", path
        )
    first = datasets[0]
    ds = _header(first, path)
    contour_images = [_image_reference(image) for image in datasets]
    ds.ReferencedFrameOfReferenceSequence = DicomSequence([_frame_reference(first, contour_images)])
    ds.StructureSetROISequence = DicomSequence()
    ds.ROIContourSequence = DicomSequence()
    ds.RTROIObservationsSequence = DicomSequence()
    algorithm = "MANUAL" if label_map.provenance.source == "user" else "AUTOMATIC"
    for number, label in enumerate(_classes(label_map), start=1):
        roi = Dataset()
        roi.ROINumber, roi.ReferencedFrameOfReferenceUID = number, first.FrameOfReferenceUID
        roi.ROIName, roi.ROIGenerationAlgorithm = label.name, algorithm
        ds.StructureSetROISequence.append(roi)
        contours = Dataset()
        contours.ROIDisplayColor = list(label.colour)
        contours.ReferencedROINumber = number
        contours.ContourSequence = DicomSequence(_contours(label_map, label.value, datasets))
        ds.ROIContourSequence.append(contours)
        observation = Dataset()
        observation.ObservationNumber, observation.ReferencedROINumber = number, number
        observation.RTROIInterpretedType, observation.ROIInterpreter = "", ""
        ds.RTROIObservationsSequence.append(observation)
    write_with_atomic(path, lambda temporary: ds.save_as(temporary, enforce_file_format=True))
    return path


def read_rtstruct(path: str | Path, scan: Scan, datasets: Sequence[Dataset] | None = None) -> LabelMap:
    """Rasterise an RTSTRUCT onto ``scan``'s grid: ROI ``k`` (in file order) becomes label value ``k``.

    ``datasets`` are the scan's DICOM headers (read from ``scan.source`` when omitted).

    Raises:
        AnnotationMismatchError: the structure set belongs to another frame of reference.
        InputError: the file is not an RTSTRUCT.
    """
    path = Path(path)
    try:
        ds = dcmread(path)
        rois = list(ds.StructureSetROISequence)
        frame = str(rois[0].ReferencedFrameOfReferenceUID) if rois else None
    except (InvalidDicomError, OSError, AttributeError) as error:
        raise InputError(f"not a DICOM RTSTRUCT ({error})", path) from error
    datasets = source_datasets(scan) if datasets is None else datasets
    if frame is not None and frame != str(datasets[0].get("FrameOfReferenceUID")):
        raise AnnotationMismatchError(
            "this RTSTRUCT outlines another scan (frame of reference differs)", path
        )
    array = np.zeros(scan.spatial_shape, dtype=np.uint16)
    value_of = {int(roi.ROINumber): value for value, roi in enumerate(rois, start=1)}
    classes = []
    for item in ds.get("ROIContourSequence", []):
        value = value_of[int(item.ReferencedROINumber)]
        colour = tuple(int(c) for c in item.get("ROIDisplayColor", [255, 0, 255]))
        classes.append(LabelClass(value, str(rois[value - 1].ROIName), colour))
        for slice_index, mask in _rasterised(item, scan):
            target = array[slice_index]
            target[mask] = value
    return LabelMap(array, scan.geometry, LabelTable(classes), Provenance("import", derived_from=str(path)))


def _contours(label_map: LabelMap, value: int, images: Sequence[Dataset]) -> list[Dataset]:
    items = []
    for z in range(label_map.array.shape[0]):
        mask = label_map.array[z] == value
        if not mask.any():
            continue
        for contour in find_contours(np.pad(mask, 1).astype(np.float32), 0.5):
            rows_columns = contour[:-1] - 1  # unpad; drop the repeated closing point
            index = np.column_stack([np.full(len(rows_columns), z), rows_columns])
            world = label_map.geometry.index_to_world(index)[:, ::-1]  # (S, P, L) -> DICOM (x, y, z)
            item = Dataset()
            item.ContourImageSequence = DicomSequence([_image_reference(images[z])])
            item.ContourGeometricType = "CLOSED_PLANAR"
            item.NumberOfContourPoints = len(world)
            item.ContourData = [f"{v:.3f}" for v in world.ravel()]
            items.append(item)
    return items


def _rasterised(item: Dataset, scan: Scan):
    """(slice index, mask) per contour, filled even-odd so holes stay empty."""
    masks: dict[int, np.ndarray] = {}
    for contour in item.get("ContourSequence", []):
        world = np.asarray(contour.ContourData, dtype=float).reshape(-1, 3)[:, ::-1]
        index = scan.geometry.world_to_index(world)
        slice_index = int(round(float(index[:, 0].mean())))
        if not 0 <= slice_index < scan.spatial_shape[0]:
            continue
        rows, columns = fill_polygon(index[:, 1], index[:, 2], scan.spatial_shape[1:])
        mask = masks.setdefault(slice_index, np.zeros(scan.spatial_shape[1:], dtype=bool))
        mask[rows, columns] ^= True
    return masks.items()


def _classes(label_map: LabelMap) -> list[LabelClass]:
    extra = sorted(set(label_map.present_values()) - set(label_map.labels.values))
    return list(label_map.labels) + [LabelClass(v, f"label {v}", (255, 0, 255)) for v in extra]


def _header(first: Dataset, path: Path) -> FileDataset:
    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID = RTStructureSetStorage
    meta.MediaStorageSOPInstanceUID = generate_uid()
    meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds = FileDataset(str(path), {}, file_meta=meta, preamble=b"\0" * 128)
    for keyword in _PATIENT_AND_STUDY:
        setattr(ds, keyword, first.get(keyword, ""))
    now = datetime.now()
    ds.SOPClassUID, ds.SOPInstanceUID = RTStructureSetStorage, meta.MediaStorageSOPInstanceUID
    ds.Modality, ds.SeriesInstanceUID, ds.SeriesNumber = "RTSTRUCT", generate_uid(), 1001
    ds.Manufacturer, ds.SoftwareVersions = "medview", medview.__version__
    ds.FrameOfReferenceUID = first.FrameOfReferenceUID
    ds.StructureSetLabel = "medview"
    ds.StructureSetDate, ds.StructureSetTime = now.strftime("%Y%m%d"), now.strftime("%H%M%S")
    ds.InstanceNumber = 1
    return ds


def _image_reference(image: Dataset) -> Dataset:
    reference = Dataset()
    reference.ReferencedSOPClassUID = image.SOPClassUID
    reference.ReferencedSOPInstanceUID = image.SOPInstanceUID
    return reference


def _frame_reference(first: Dataset, images: list[Dataset]) -> Dataset:
    series = Dataset()
    series.SeriesInstanceUID = first.SeriesInstanceUID
    series.ContourImageSequence = DicomSequence(images)
    study = Dataset()
    study.ReferencedSOPClassUID = "1.2.840.10008.3.1.2.3.1"  # Detached Study Management (retired, customary)
    study.ReferencedSOPInstanceUID = first.StudyInstanceUID
    study.RTReferencedSeriesSequence = DicomSequence([series])
    frame = Dataset()
    frame.FrameOfReferenceUID = first.FrameOfReferenceUID
    frame.RTReferencedStudySequence = DicomSequence([study])
    return frame
