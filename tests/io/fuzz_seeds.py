"""Seeds for fuzzing the readers: a small valid file (or folder) of every format medview opens.

``fuzz_cases`` damages copies of them; ``tests/io/test_damaged_files.py`` and the GUI tests reuse
some of the builders (``write_slide``, ``nifti2_bytes``, ``shipped``).
"""

from __future__ import annotations

import shutil
import struct
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np


@dataclass(frozen=True)
class Field:
    """An integer (or float) header field at a fixed offset of the target file, in struct format."""

    name: str
    offset: int
    format: str


@dataclass(frozen=True)
class Seed:
    """A valid case: a folder ``root`` holding the files, ``opens`` the path given to ``open_scan``
    (relative to ``root``; ``.`` for a DICOM folder) and ``target`` the file that mutations change."""

    name: str
    root: Path
    opens: str
    target: str
    data_start: int
    fields: tuple[Field, ...] = ()
    gzipped: bool = False
    chunks: tuple[tuple[int, int], ...] = ()
    """TIFF tiles or strips of the target as (offset, length), for damaging one of them."""


# --- seeds ---------------------------------------------------------------------------------------


def build_seeds(folder: Path) -> list[Seed]:
    """Write one small valid file (or folder) of every kind medview opens under ``folder``."""
    folder.mkdir(parents=True, exist_ok=True)
    builders: list[Callable[[Path], Seed]] = [
        _dicom_ct,
        _dicom_series,
        _dicom_rgb,
        _dicom_seg,
        _dicom_enhanced,
        *[_shipped_dicom(name) for name in _SHIPPED],
        _nifti1,
        _nifti1_gz,
        _nifti_4d,
        _nifti2,
        _text_header_volume("nrrd", "scan.nrrd"),
        _text_header_volume("nrrd-gz", "scan.nrrd", compress=True),
        _text_header_volume("mha", "scan.mha"),
        _text_header_volume("mha-zlib", "scan.mha", compress=True),
        _mhd,
        _png,
        _jpeg,
        _tiff,
        _slide,
    ]
    return [build(folder) for build in builders]


_SHIPPED = {
    "dicom-rle": "MR_small_RLE.dcm",
    "dicom-rle-rgb": "SC_rgb_rle.dcm",
    "dicom-rle-2frame": "SC_rgb_rle_2frame.dcm",
    "dicom-jpeg-ls": "MR_small_jpeg_ls_lossless.dcm",
    "dicom-jpeg2000": "MR_small_jp2klossless.dcm",
    "dicom-jpeg2000-ct": "JPEG2000.dcm",
    "dicom-jpeg-baseline": "SC_rgb_jpeg_dcmtk.dcm",
    "dicom-big-endian": "MR_small_bigendian.dcm",
    "dicom-rtdose": "rtdose.dcm",
    "dicom-palette": "examples_palette.dcm",
    "dicom-ybr-422": "SC_ybr_full_422_uncompressed.dcm",
    "dicom-implicit": "MR_small_implicit.dcm",
}


def _volume(shape=(6, 10, 12), seed=0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    z, y, x = np.indices(shape)
    return (z * 50 + y * 7 + x * 3 + rng.integers(0, 5, size=shape)).astype(np.int16)


def _seed_dir(folder: Path, name: str) -> Path:
    root = folder / name
    root.mkdir(parents=True, exist_ok=True)
    return root


def _dicom_ct(folder: Path) -> Seed:
    from io_scan_files import write_slice

    root = _seed_dir(folder, "dicom-ct")
    write_slice(root / "ct.dcm", _volume()[0], (0.0, 0.0, 0.0), WindowCenter=40, WindowWidth=400)
    return _dicom_seed("dicom-ct", root, "ct.dcm")


def _dicom_series(folder: Path) -> Seed:
    from io_scan_files import write_series

    root = _seed_dir(folder, "dicom-series")
    write_series(root, _volume((3, 8, 9)))
    return _dicom_seed("dicom-series", root, "IM0001.dcm", opens=".")


def _dicom_rgb(folder: Path) -> Seed:
    from io_scan_files import write_slice

    root = _seed_dir(folder, "dicom-rgb")
    pixels = np.random.default_rng(1).integers(0, 255, size=(9, 11, 3), dtype=np.uint8)
    write_slice(
        root / "rgb.dcm",
        pixels[..., 0],
        None,
        orientation=None,
        Modality="XC",
        SamplesPerPixel=3,
        PhotometricInterpretation="RGB",
        PlanarConfiguration=0,
        PixelData=pixels.tobytes(),
    )
    return _dicom_seed("dicom-rgb", root, "rgb.dcm")


def _dicom_seg(folder: Path) -> Seed:
    from io_scan_files import write_series

    from medview.annotations.seg import source_datasets, write_dicom_seg
    from medview.core.labels import LabelClass, LabelTable
    from medview.core.provenance import Provenance
    from medview.core.scan import LabelMap
    from medview.io import open_scan

    ct = folder / "seg-source"
    patient = {
        "PatientID": "P1",
        "PatientName": "Test^Patient",
        "PatientSex": "O",
        "PatientBirthDate": "",
        "StudyID": "1",
        "StudyDate": "",
        "StudyTime": "",
        "AccessionNumber": "",
        "ReferringPhysicianName": "",
        "SeriesNumber": 3,
        "Manufacturer": "test",
        "FrameOfReferenceUID": "1.2.826.0.1.3680043.10.1.7",
    }
    write_series(ct, _volume((3, 8, 9)), **patient)
    scan = open_scan(ct)
    labels = np.zeros(scan.spatial_shape, np.uint8)
    labels[1, 2:6, 3:7] = 1
    labels[2, 1:3, 1:8] = 2
    table = LabelTable([LabelClass(1, "liver", (200, 80, 60)), LabelClass(2, "lesion", (255, 220, 0))])
    root = _seed_dir(folder, "dicom-seg")
    write_dicom_seg(
        LabelMap(labels, scan.geometry, table, Provenance.drawn()), source_datasets(scan), root / "seg.dcm"
    )
    return _dicom_seed("dicom-seg", root, "seg.dcm")


def _dicom_enhanced(folder: Path) -> Seed:
    import pydicom
    from pydicom.dataset import Dataset, FileDataset, FileMetaDataset
    from pydicom.sequence import Sequence
    from pydicom.uid import EnhancedCTImageStorage, ExplicitVRLittleEndian, generate_uid

    volume = _volume((4, 6, 5))
    root = _seed_dir(folder, "dicom-enhanced")
    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID = EnhancedCTImageStorage
    meta.MediaStorageSOPInstanceUID = generate_uid()
    meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds = FileDataset(str(root / "enhanced.dcm"), {}, file_meta=meta, preamble=b"\0" * 128)
    ds.SOPClassUID, ds.SOPInstanceUID = EnhancedCTImageStorage, meta.MediaStorageSOPInstanceUID
    ds.SeriesInstanceUID, ds.Modality = generate_uid(), "CT"
    ds.Rows, ds.Columns, ds.NumberOfFrames = 6, 5, 4
    ds.SamplesPerPixel, ds.PhotometricInterpretation = 1, "MONOCHROME2"
    ds.BitsAllocated = ds.BitsStored = 16
    ds.HighBit, ds.PixelRepresentation = 15, 1
    shared, orientation, measures = Dataset(), Dataset(), Dataset()
    orientation.ImageOrientationPatient = [1, 0, 0, 0, 1, 0]
    measures.PixelSpacing, measures.SliceThickness = [0.5, 0.75], 3.0
    shared.PlaneOrientationSequence = Sequence([orientation])
    shared.PixelMeasuresSequence = Sequence([measures])
    ds.SharedFunctionalGroupsSequence = Sequence([shared])
    frames = []
    for index in range(4):
        frame, plane, transform = Dataset(), Dataset(), Dataset()
        plane.ImagePositionPatient = [0.0, 0.0, 3.0 * ((index * 3) % 4)]
        transform.RescaleSlope, transform.RescaleIntercept = 1, -1000
        frame.PlanePositionSequence = Sequence([plane])
        frame.PixelValueTransformationSequence = Sequence([transform])
        frames.append(frame)
    ds.PerFrameFunctionalGroupsSequence = Sequence(frames)
    ds.PixelData = volume.tobytes()
    ds.save_as(root / "enhanced.dcm", enforce_file_format=True)
    assert pydicom.dcmread(root / "enhanced.dcm").NumberOfFrames == 4
    return _dicom_seed("dicom-enhanced", root, "enhanced.dcm")


def _shipped_dicom(name: str) -> Callable[[Path], Seed]:
    def build(folder: Path) -> Seed:
        root = _seed_dir(folder, name)
        shutil.copy(shipped(_SHIPPED[name]), root / _SHIPPED[name])
        return _dicom_seed(name, root, _SHIPPED[name])

    build.__name__ = f"_shipped_{name}"
    return build


def shipped(name: str) -> str:
    """A test file bundled with pydicom (never downloaded: a missing one is an error)."""
    from pydicom.data import get_testdata_file

    with warnings.catch_warnings():
        warnings.simplefilter("error")
        found = get_testdata_file(name)
    if found is None:
        raise FileNotFoundError(name)
    return found


def _dicom_seed(name: str, root: Path, target: str, opens: str | None = None) -> Seed:
    import pydicom

    with open(root / target, "rb") as handle:
        header = pydicom.dcmread(handle, stop_before_pixels=True)
        tag_at = handle.tell()
    syntax = header.file_meta.TransferSyntaxUID
    explicit = not syntax.is_implicit_VR
    length_at = tag_at + (8 if explicit else 4)
    fields = (Field("PixelData length", length_at, ("<" if syntax.is_little_endian else ">") + "I"),)
    return Seed(name, root, opens or target, target, tag_at + (12 if explicit else 8), fields)


def _sitk_write(path: Path, array: np.ndarray, compress: bool = False) -> None:
    import SimpleITK as sitk

    image = sitk.GetImageFromArray(array)
    image.SetSpacing((0.7, 0.8, 2.0)[: image.GetDimension()])
    image.SetOrigin((1.0, -2.0, 3.0)[: image.GetDimension()])
    sitk.WriteImage(image, str(path), useCompression=compress)


_NIFTI1_FIELDS = (
    Field("sizeof_hdr", 0, "<i"),
    *(Field(f"dim[{k}]", 40 + 2 * k, "<h") for k in range(8)),
    Field("datatype", 70, "<h"),
    Field("bitpix", 72, "<h"),
    *(Field(f"pixdim[{k}]", 76 + 4 * k, "<f") for k in range(4)),
    Field("vox_offset", 108, "<f"),
    Field("scl_slope", 112, "<f"),
    Field("qform_code", 252, "<h"),
    Field("sform_code", 254, "<h"),
    Field("magic", 344, "<i"),
)
_NIFTI2_FIELDS = (
    Field("sizeof_hdr", 0, "<i"),
    Field("magic", 4, "<i"),
    Field("datatype", 12, "<h"),
    Field("bitpix", 14, "<h"),
    *(Field(f"dim[{k}]", 16 + 8 * k, "<q") for k in range(8)),
    *(Field(f"pixdim[{k}]", 104 + 8 * k, "<d") for k in range(4)),
    Field("vox_offset", 168, "<q"),
    Field("scl_slope", 176, "<d"),
)


def _nifti1(folder: Path) -> Seed:
    root = _seed_dir(folder, "nifti1")
    _sitk_write(root / "scan.nii", _volume())
    return Seed("nifti1", root, "scan.nii", "scan.nii", 352, _NIFTI1_FIELDS)


def _nifti1_gz(folder: Path) -> Seed:
    root = _seed_dir(folder, "nifti1-gz")
    _sitk_write(root / "scan.nii.gz", _volume())
    return Seed("nifti1-gz", root, "scan.nii.gz", "scan.nii.gz", 352, _NIFTI1_FIELDS, gzipped=True)


def _nifti_4d(folder: Path) -> Seed:
    import SimpleITK as sitk

    root = _seed_dir(folder, "nifti-4d")
    frames = [sitk.GetImageFromArray(_volume((3, 4, 5), seed=t)) for t in range(3)]
    sitk.WriteImage(sitk.JoinSeries(frames), str(root / "cine.nii"))
    return Seed("nifti-4d", root, "cine.nii", "cine.nii", 352, _NIFTI1_FIELDS)


def nifti2_bytes(volume: np.ndarray, spacing=(2.0, 0.8, 0.7)) -> bytes:
    """A NIfTI-2 file (540-byte header, no extension) of an int16 ``(z, y, x)`` volume."""
    header = bytearray(544)
    struct.pack_into("<i8s", header, 0, 540, b"n+2\0\r\n\x1a\n")
    struct.pack_into("<hh", header, 12, 4, 16)  # datatype int16
    struct.pack_into("<8q", header, 16, 3, *volume.shape[::-1], 1, 1, 1, 1)
    struct.pack_into("<8d", header, 104, 1.0, *spacing[::-1], 1.0, 1.0, 1.0, 1.0)
    struct.pack_into("<q", header, 168, 544)  # vox_offset
    struct.pack_into("<dd", header, 176, 1.0, 0.0)  # scl_slope, scl_inter
    struct.pack_into("<ii", header, 344, 0, 1)  # qform_code, sform_code (scanner)
    for row, values in enumerate(np.diag([-spacing[2], -spacing[1], spacing[0]])):
        struct.pack_into("<4d", header, 400 + 32 * row, *values, 0.0)
    struct.pack_into("<i", header, 500, 2)  # xyzt_units: mm
    return bytes(header) + volume.astype("<i2").tobytes()


def _nifti2(folder: Path) -> Seed:
    root = _seed_dir(folder, "nifti2")
    (root / "scan.nii").write_bytes(nifti2_bytes(_volume()))
    return Seed("nifti2", root, "scan.nii", "scan.nii", 544, _NIFTI2_FIELDS)


def _text_seed(name: str, root: Path, file: str, opens: str | None = None, gzipped=False) -> Seed:
    data = (root / file).read_bytes()
    end = data.find(b"\n\n") + 2 if file.endswith(".nrrd") else data.find(b"ElementDataFile")
    end = data.find(b"\n", end - 1 if file.endswith(".nrrd") else end) + 1
    return Seed(name, root, opens or file, file, end if end > 0 else len(data) // 2, gzipped=gzipped)


def _text_header_volume(name: str, file: str, compress: bool = False) -> Callable[[Path], Seed]:
    """A builder of a volume SimpleITK writes with a text header (NRRD, MetaImage), compressed or not."""

    def build(folder: Path) -> Seed:
        root = _seed_dir(folder, name)
        _sitk_write(root / file, _volume(), compress=compress)
        return _text_seed(name, root, file)

    return build


def _mhd(folder: Path) -> Seed:
    root = _seed_dir(folder, "mhd")
    _sitk_write(root / "case.mhd", _volume())
    return Seed("mhd", root, "case.mhd", "case.mhd", (root / "case.mhd").stat().st_size)


def _png(folder: Path) -> Seed:
    import imageio.v3 as iio

    root = _seed_dir(folder, "png")
    iio.imwrite(root / "x.png", np.random.default_rng(2).integers(0, 255, (20, 24), dtype=np.uint8))
    fields = (
        Field("IHDR width", 16, ">I"),
        Field("IHDR height", 20, ">I"),
        Field("IHDR depth", 24, ">B"),
        Field("IHDR colour", 25, ">B"),
    )
    return Seed("png", root, "x.png", "x.png", 33, fields)


def _jpeg(folder: Path) -> Seed:
    import imageio.v3 as iio

    root = _seed_dir(folder, "jpeg")
    pixels = np.random.default_rng(3).integers(0, 255, (24, 32, 3), dtype=np.uint8)
    iio.imwrite(root / "photo.jpg", pixels)
    data = (root / "photo.jpg").read_bytes()
    return Seed("jpeg", root, "photo.jpg", "photo.jpg", data.find(b"\xff\xda") + 2)


def _tiff_fields(path: Path) -> tuple[int, tuple[Field, ...], tuple[tuple[int, int], ...]]:
    import tifffile

    fields = []
    with tifffile.TiffFile(path) as tiff:
        chunks = tuple(
            (offset, length)
            for page in tiff.pages
            for offset, length in zip(page.dataoffsets, page.databytecounts, strict=True)
        )
        order = tiff.byteorder
        pages = [tiff.pages[0], *tiff.series[0].levels[1:2]]
        start = min(tiff.pages[0].dataoffsets)
        for number, page in enumerate(pages):
            page = page if isinstance(page, tifffile.TiffPage) else page.keyframe
            for tag in page.tags.values():
                if tag.name in _TIFF_TAGS and tag.count >= 1:
                    fmt = order + tifffile.TIFF.DATA_FORMATS[tag.dtype][-1]
                    fields.append(Field(f"page{number}.{tag.name}", tag.valueoffset, fmt))
    return start, tuple(fields), chunks


_TIFF_TAGS = {
    "ImageWidth",
    "ImageLength",
    "BitsPerSample",
    "Compression",
    "SamplesPerPixel",
    "RowsPerStrip",
    "StripOffsets",
    "StripByteCounts",
    "TileWidth",
    "TileLength",
    "TileOffsets",
    "TileByteCounts",
    "PlanarConfiguration",
    "PhotometricInterpretation",
    "SubIFDs",
}


def _tiff(folder: Path) -> Seed:
    import tifffile

    root = _seed_dir(folder, "tiff")
    tifffile.imwrite(root / "x.tif", _volume((2, 16, 20)).astype(np.uint16), photometric="minisblack")
    start, fields, chunks = _tiff_fields(root / "x.tif")
    return Seed("tiff", root, "x.tif", "x.tif", start, fields, chunks=chunks)


def write_slide(path: Path, size: int = 512, tile: int = 128, levels: int = 3) -> np.ndarray:
    """A small pyramidal RGB TIFF with JPEG tiles, subresolutions in SubIFDs; returns the base."""
    import tifffile

    y, x = np.mgrid[0:size, 0:size]
    base = np.stack([(x * 255 // size), (y * 255 // size), ((x + y) * 127 // size)], -1).astype(np.uint8)
    options = {"tile": (tile, tile), "photometric": "rgb", "compression": "jpeg"}
    with tifffile.TiffWriter(path) as tiff:
        tiff.write(base, subifds=levels - 1, resolution=(2e4, 2e4), resolutionunit="CENTIMETER", **options)
        for level in range(1, levels):
            tiff.write(base[:: 2**level, :: 2**level], subfiletype=1, **options)
    return base


def _slide(folder: Path) -> Seed:
    root = _seed_dir(folder, "slide")
    write_slide(root / "slide.tif", size=384, tile=64)
    start, fields, chunks = _tiff_fields(root / "slide.tif")
    return Seed("slide", root, "slide.tif", "slide.tif", start, fields, chunks=chunks)
