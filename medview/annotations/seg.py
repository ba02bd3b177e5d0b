"""Label maps as DICOM SEG (highdicom), for scans that came from DICOM, keeping names and colours.

A DICOM SEG refers to the exact source instances it segments, so writing and reading need the
scan's DICOM headers in array order: :func:`source_datasets` reads them from ``scan.source``
(the io reader keeps the folder and series UID, not the datasets). A label-map SEG (the default:
one frame per slice, DICOM's Label Map Segmentation Storage) keeps the label values as segment
numbers; a binary SEG (one bit plane per segment and slice, which older viewers read) numbers
the table's classes 1..N in value order. Names and colours round-trip; every segment's
property category and type is SNOMED "Tissue", as the label table carries no codes.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import highdicom as hd
import numpy as np
from pydicom import dcmread
from pydicom.dataset import Dataset
from pydicom.errors import InvalidDicomError
from pydicom.sr.codedict import codes

import medview
from medview.annotations.nifti import AnnotationMismatchError
from medview.core.errors import InputError
from medview.core.labels import LabelClass
from medview.core.provenance import Provenance
from medview.core.scan import LabelMap, Scan
from medview.io.atomic import write_with_atomic
from medview.io.dicom_seg import read_seg, seg_label_map

SEGMENTATION_TYPES = ("labelmap", "binary")
MAX_SEGMENTS = 65535  # segment numbers are 16-bit unsigned
_ALGORITHM_TYPE = {"user": "MANUAL", "model": "AUTOMATIC", "model+user": "SEMIAUTOMATIC"}


def source_datasets(scan: Scan) -> list[Dataset]:
    """The DICOM headers of ``scan`` (no pixels), one per slice, in array order along axis 0.

    Raises:
        InputError: the scan did not come from DICOM, or its files no longer match it.
    """
    if not scan.source or "series_uid" not in scan.metadata:
        raise InputError(f"{scan.name or 'this scan'} is not DICOM; save the annotation as NIfTI instead")
    source = Path(scan.source)
    files = [source] if source.is_file() else sorted(path for path in source.rglob("*") if path.is_file())
    datasets = []
    for path in files:
        try:
            header = dcmread(path, stop_before_pixels=True)
        except (InvalidDicomError, OSError):
            continue
        if header.get("SeriesInstanceUID") == scan.metadata["series_uid"]:
            datasets.append(header)
    if scan.geometry.ndim == 2:
        if len(datasets) != 1:
            raise InputError(f"expected one DICOM image of series {scan.metadata['series_uid']}", source)
        return datasets
    slices = [_slice_index(header, scan) for header in datasets]
    if sorted(slices) != list(range(scan.spatial_shape[0])):
        raise InputError("the DICOM files in this folder no longer match the scan's slices", source)
    return [header for _, header in sorted(zip(slices, datasets, strict=True), key=lambda pair: pair[0])]


def write_dicom_seg(
    label_map: LabelMap,
    datasets: Sequence[Dataset],
    path: str | Path,
    segmentation_type: str = "binary",
) -> Path:
    """Write ``label_map`` as a DICOM SEG of the source instances ``datasets`` (array order).

    ``segmentation_type`` is ``labelmap`` (values kept as segment numbers) or ``binary``
    (classes numbered 1..N).

    Raises:
        InputError: the annotation has no labels, or more (or higher) labels than 65535.
        AnnotationMismatchError: its slices do not match ``datasets``.
    """
    path = Path(path)
    if segmentation_type not in SEGMENTATION_TYPES:
        raise ValueError(f"segmentation_type is one of {', '.join(SEGMENTATION_TYPES)}")
    table = segment_classes(label_map)
    reason = _capacity_reason(_lowest(label_map), table, segmentation_type)
    if reason:
        raise InputError(reason, path)
    if not table:
        raise InputError("the annotation has no labels to save as DICOM SEG", path)
    values = np.array([label.value for label in table])
    numbers = values if segmentation_type == "labelmap" else np.arange(1, len(table) + 1)
    pixels = np.zeros(label_map.array.shape, dtype=np.uint16)
    labelled = label_map.array > 0
    pixels[labelled] = numbers[np.searchsorted(values, label_map.array[labelled])]
    pixels = pixels[np.newaxis] if pixels.ndim == 2 else pixels
    if pixels.shape[0] != len(datasets):
        raise AnnotationMismatchError(
            f"the annotation has {pixels.shape[0]} slices but the scan {len(datasets)}", path
        )
    provenance = label_map.provenance
    seg = hd.seg.Segmentation(
        source_images=list(datasets),
        pixel_array=pixels,
        segmentation_type=hd.seg.SegmentationTypeValues[segmentation_type.upper()],
        segment_descriptions=[
            _description(int(number), label, provenance) for number, label in zip(numbers, table, strict=True)
        ],
        series_instance_uid=hd.UID(),
        series_number=int(datasets[0].get("SeriesNumber", 0) or 0) + 1000,
        sop_instance_uid=hd.UID(),
        instance_number=1,
        manufacturer="medview",
        manufacturer_model_name="medview",
        software_versions=medview.__version__,
        device_serial_number="0",
        content_description=f"{provenance.source} annotation"[:64],
        content_creator_name=None if provenance.source == "model" else _person_name(provenance.author),
        omit_empty_frames=True,
    )
    write_with_atomic(path, lambda temporary: seg.save_as(temporary))
    return path


def segment_classes(label_map: LabelMap) -> list[LabelClass]:
    """The table's classes and any positive value present but not in it (``label N``), by value."""
    known = set(label_map.labels.values)
    unnamed = [v for v in label_map.present_values() if v > 0 and v not in known]
    extra = [LabelClass(v, f"label {v}", (255, 0, 255)) for v in unnamed]
    return sorted([*label_map.labels, *extra], key=lambda label: label.value)


def seg_capacity_reason(label_map: LabelMap, segmentation_type: str = "binary") -> str | None:
    """Why a SEG of this type cannot hold ``label_map`` (one sentence), or ``None``."""
    return _capacity_reason(_lowest(label_map), segment_classes(label_map), segmentation_type)


def read_dicom_seg(path: str | Path, scan: Scan, datasets: Sequence[Dataset] | None = None) -> LabelMap:
    """Read a DICOM SEG of ``scan`` as a label map on the scan's grid (segment numbers as values).

    Overlapping segments: a voxel shows the later segment (see :func:`medview.io.dicom_seg.seg_label_map`).

    Raises:
        AnnotationMismatchError: the SEG segments another series.
        InputError: the file is not a DICOM SEG.
    """
    path = Path(path)
    seg = read_seg(path)
    datasets = source_datasets(scan) if datasets is None else datasets
    uids = [str(dataset.SOPInstanceUID) for dataset in datasets]
    referenced = {str(uid) for _, _, uid in seg.get_source_image_uids()}
    if not referenced & set(uids):
        raise AnnotationMismatchError(
            f"this SEG segments other images, not the scan's series {scan.metadata.get('series_uid')}; "
            "open the scan it belongs to",
            path,
        )
    return seg_label_map(seg, datasets, scan, path, warnings=[])


def _lowest(label_map: LabelMap) -> int:
    return int(label_map.array.min()) if label_map.array.size else 0


def _capacity_reason(lowest: int, classes: list[LabelClass], segmentation_type: str) -> str | None:
    if lowest < 0:
        return f"label values are 0 (background) or positive; this annotation holds {lowest}"
    if segmentation_type == "labelmap" and classes and classes[-1].value > MAX_SEGMENTS:
        return (
            f"a label-map DICOM SEG numbers segments up to {MAX_SEGMENTS}; this annotation uses label "
            f"{classes[-1].value} — export it as a binary SEG or as NIfTI"
        )
    if len(classes) > MAX_SEGMENTS:
        return f"a DICOM SEG holds up to {MAX_SEGMENTS} segments; this annotation has {len(classes)} labels"
    return None


def _description(number: int, label: LabelClass, provenance: Provenance) -> hd.seg.SegmentDescription:
    algorithm_type = _ALGORITHM_TYPE.get(provenance.source, "MANUAL")
    algorithm = None
    if algorithm_type != "MANUAL":
        algorithm = hd.AlgorithmIdentificationSequence(
            name=provenance.author,
            family=codes.cid7162.ArtificialIntelligence,
            version=provenance.model_version or "unknown",
        )
    return hd.seg.SegmentDescription(
        segment_number=number,
        segment_label=label.name,
        segmented_property_category=_concept(label.category, codes.SCT.Tissue),
        segmented_property_type=_concept(label.property_type, codes.SCT.Tissue),
        algorithm_type=algorithm_type,
        algorithm_identification=algorithm,
        display_color=hd.color.CIELabColor.from_rgb(*label.colour),
    )


def _concept(code: tuple[str, str, str] | None, default: hd.sr.CodedConcept) -> hd.sr.CodedConcept:
    """The class's own code (kept from the SEG it was read from), else the generic ``default``."""
    return default if code is None else hd.sr.CodedConcept(*code)


def _person_name(user: str) -> str:
    """A DICOM person name for a login name: a single component needs a trailing caret."""
    return user if "^" in user else f"{user}^"


def _slice_index(header: Dataset, scan: Scan) -> int:
    position = np.asarray([float(v) for v in header.ImagePositionPatient])[::-1]  # LPS in array order
    return int(round(float(scan.geometry.world_to_index(position)[0])))
