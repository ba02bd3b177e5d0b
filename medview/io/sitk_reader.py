"""NIfTI, NRRD and MetaImage through SimpleITK, checked before it is trusted.

SimpleITK reads a truncated uncompressed NIfTI by filling the missing voxels with zeros, so the header
is read first (``ReadImageInformation``) and the data size it promises is compared with the file and
with the memory available before any voxel is read.
"""

from __future__ import annotations

import gzip
import struct
import zlib
from pathlib import Path

import numpy as np
import psutil
import SimpleITK as sitk

from medview.core.geometry import Geometry
from medview.core.scan import Scan
from medview.io.errors import ScanError
from medview.io.sitk_convert import geometry_from_sitk

SUFFIXES = (".nii", ".nii.gz", ".nrrd", ".nhdr", ".mha", ".mhd")
_NIFTI1_HEADER_SIZE = 348


def read_volume(path: str | Path) -> Scan:
    """A NIfTI/NRRD/MHA/MHD file as a scan; 4D files get a leading time axis.

    Raises:
        ScanError: empty, corrupt or truncated file, or more voxels than memory holds.
    """
    path = Path(path)
    if path.stat().st_size == 0:
        raise ScanError("the file is empty (0 bytes)", path)
    reader = sitk.ImageFileReader()
    reader.SetFileName(str(path))
    try:
        reader.ReadImageInformation()
    except RuntimeError as error:
        raise ScanError(f"the image header cannot be read ({_itk_reason(error)})", path) from error
    size = reader.GetSize()
    components = reader.GetNumberOfComponents()
    itemsize = sitk.GetArrayViewFromImage(sitk.Image([1] * len(size), reader.GetPixelID())).itemsize
    needed = int(np.prod(size, dtype=np.float64)) * itemsize
    _check_memory(needed, size, path)
    if path.name.lower().endswith((".nii", ".nii.gz")):
        _check_nifti_length(path, needed)
    try:
        image = reader.Execute()
    except RuntimeError as error:
        raise ScanError(
            f"the voxel data cannot be read: the file is truncated or corrupt (ITK: {_itk_reason(error)})",
            path,
        ) from error
    return _scan(image, components, path)


def _scan(image: sitk.Image, components: int, path: Path) -> Scan:
    array = sitk.GetArrayFromImage(image)
    rgb = components in (3, 4) and array.dtype == np.uint8
    if components > 1 and not rgb:
        raise ScanError(f"images with {components} components per voxel are not supported", path)
    if rgb and components == 4:
        array = array[..., :3]
    has_time = image.GetDimension() == 4
    geometry = _spatial_geometry(image) if has_time else geometry_from_sitk(image)
    name = path.name
    for suffix in SUFFIXES:
        if name.lower().endswith(suffix):
            name = name[: -len(suffix)]
            break
    return Scan(array=array, geometry=geometry, name=name, rgb=rgb, has_time_axis=has_time, source=str(path))


def _spatial_geometry(image: sitk.Image) -> Geometry:
    """Geometry of the first three (spatial) axes of a 4D image; the fourth is time."""
    direction = np.array(image.GetDirection(), dtype=np.float64).reshape(4, 4)[:3, :3]
    return Geometry.from_spacing(image.GetSpacing()[2::-1], image.GetOrigin()[2::-1], direction[::-1, ::-1])


def _check_memory(needed: int, size: tuple[int, ...], path: Path) -> None:
    available = psutil.virtual_memory().available
    if needed > available:
        raise ScanError(
            f"the header claims {'x'.join(map(str, size))} voxels ({needed / 2**30:.1f} GiB), more than "
            f"the {available / 2**30:.1f} GiB of memory free; the header is wrong or the image too large",
            path,
        )


def _check_nifti_length(path: Path, needed: int) -> None:
    """Refuse a NIfTI whose voxel data stops before the header says it ends.

    For ``.nii.gz`` this decompresses the stream once more: the only way to know its length.
    """
    compressed = path.name.lower().endswith(".gz")
    try:
        with gzip.open(path, "rb") if compressed else open(path, "rb") as handle:
            header = handle.read(_NIFTI1_HEADER_SIZE)
            orders = [o for o in "<>" if struct.unpack(f"{o}i", header[:4])[0] == _NIFTI1_HEADER_SIZE]
            if not orders:
                return  # NIfTI-2: SimpleITK's own checks apply
            offset = max(int(struct.unpack(f"{orders[0]}f", header[108:112])[0]), _NIFTI1_HEADER_SIZE + 4)
            total = len(header) + (
                _stream_length(handle) if compressed else path.stat().st_size - len(header)
            )
    except (EOFError, OSError, zlib.error) as error:
        raise ScanError(f"the compressed file is truncated or corrupt ({error})", path) from error
    if total - offset < needed:
        raise ScanError(
            f"the file is truncated: the header promises {needed} bytes of voxel data, "
            f"the file holds {max(total - offset, 0)}",
            path,
        )


def _stream_length(handle) -> int:
    length = 0
    while chunk := handle.read(1 << 24):
        length += len(chunk)
    return length


def _itk_reason(error: RuntimeError) -> str:
    lines = [line.strip() for line in str(error).splitlines() if line.strip()]
    useful = [line for line in lines if not line.startswith(("Exception thrown", "itk::", "/"))]
    return (useful or lines or ["unknown error"])[-1][:200]
