"""DICOM pixels: compressed transfer syntaxes, multi-frame, radiographs, colour and ultrasound."""

from __future__ import annotations

import warnings

import imagecodecs
import numpy as np
import pydicom
import pytest
from io_scan_files import OBLIQUE, phantom, write_slice
from pydicom.data import get_testdata_file
from pydicom.dataset import Dataset, FileDataset, FileMetaDataset
from pydicom.encaps import encapsulate
from pydicom.sequence import Sequence
from pydicom.uid import (
    EnhancedCTImageStorage,
    ExplicitVRLittleEndian,
    JPEGLosslessSV1,
    generate_uid,
)

from medview.io import ScanError, open_scan
from medview.io.dicom_series import volume_geometry


def _shipped(name: str) -> str:
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # a missing file would try to download: fail instead
        return get_testdata_file(name)


@pytest.mark.parametrize(
    "name",
    [
        "MR_small_RLE.dcm",
        "MR_small_jpeg_ls_lossless.dcm",
        "MR_small_jp2klossless.dcm",
        "MR_small_bigendian.dcm",
    ],
)
def test_lossless_compressed_syntaxes_decode_to_the_uncompressed_pixels(name):
    reference = open_scan(_shipped("MR_small.dcm"))
    scan = open_scan(_shipped(name))
    assert scan.array.dtype.isnative
    np.testing.assert_array_equal(scan.array, reference.array)
    assert scan.geometry.matches(reference.geometry)


def test_jpeg_lossless_series(tmp_path):
    volume = phantom((3, 16, 16)).astype(np.uint16)
    for index, plane in enumerate(volume):
        path = write_slice(tmp_path / f"{index}.dcm", plane, (0.0, 0.0, 4.0 * index))
        ds = pydicom.dcmread(path)
        ds.PixelData = encapsulate([imagecodecs.jpeg8_encode(plane, lossless=True, bitspersample=16)])
        ds.file_meta.TransferSyntaxUID = JPEGLosslessSV1
        ds.PixelRepresentation = 0
        ds.save_as(path)
    scan = open_scan(tmp_path)
    np.testing.assert_array_equal(scan.array, volume)
    assert scan.spacing[0] == pytest.approx(4.0)


@pytest.mark.parametrize("name", ["SC_rgb_jpeg_dcmtk.dcm", "SC_rgb_rle.dcm", "SC_rgb_small_odd_jpeg.dcm"])
def test_colour_images_open_as_rgb(name):
    scan = open_scan(_shipped(name))
    assert scan.rgb and scan.array.shape[-1] == 3 and scan.array.ndim == 3
    if scan.array.shape[0] == 100:  # the 100x100 colour bars: red on top, white at the bottom
        np.testing.assert_allclose(scan.array[5, 50], (255, 0, 0), atol=3)
        np.testing.assert_allclose(scan.array[95, 50], (255, 255, 255), atol=3)


def test_jpeg_2000_grey_image():
    scan = open_scan(_shipped("JPEG2000.dcm"))
    assert scan.array.shape == (1024, 256) and scan.modality == "NM"
    assert scan.spacing == pytest.approx((2.26, 2.26))


def test_ultrasound_cine_has_a_time_axis():
    scan = open_scan(_shipped("examples_ybr_color.dcm"))
    assert scan.modality == "US" and scan.rgb and scan.has_time_axis
    assert scan.array.shape == (30, 240, 320, 3)
    assert scan.spatial_shape == (240, 320)


def test_palette_colour_becomes_8_bit_rgb():
    scan = open_scan(_shipped("examples_palette.dcm"))
    assert scan.rgb and scan.array.dtype == np.uint8 and scan.array.shape == (350, 800, 3)


def test_monochrome1_radiograph_is_inverted_with_detector_spacing(tmp_path):
    stored = np.array([[0, 100], [200, 1000]], dtype=np.uint16)
    path = write_slice(
        tmp_path / "cr.dcm",
        stored,
        None,
        orientation=None,
        Modality="DX",
        PhotometricInterpretation="MONOCHROME1",
        ImagerPixelSpacing=[0.15, 0.2],
        WindowCenter=800,
        WindowWidth=400,
    )
    del_spacing = pydicom.dcmread(path)
    del del_spacing.PixelSpacing
    del_spacing.save_as(path)

    scan = open_scan(path)
    assert scan.array.shape == (2, 2) and scan.modality == "DX"
    np.testing.assert_array_equal(scan.array, [[1000, 900], [800, 0]])  # bright bone stays bright
    assert scan.spacing == pytest.approx((0.15, 0.2))
    assert scan.window.center == pytest.approx(200.0)  # the DICOM window, inverted too


def _enhanced_ct(path, volume, positions, slopes):
    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID = EnhancedCTImageStorage
    meta.MediaStorageSOPInstanceUID = generate_uid()
    meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds = FileDataset(str(path), {}, file_meta=meta, preamble=b"\0" * 128)
    ds.SOPClassUID, ds.SOPInstanceUID = EnhancedCTImageStorage, meta.MediaStorageSOPInstanceUID
    ds.SeriesInstanceUID, ds.Modality = generate_uid(), "CT"
    ds.NumberOfFrames = len(volume)
    ds.Rows, ds.Columns = volume.shape[1:]
    ds.SamplesPerPixel, ds.PhotometricInterpretation = 1, "MONOCHROME2"
    ds.BitsAllocated = ds.BitsStored = 16
    ds.HighBit, ds.PixelRepresentation = 15, 1
    shared = Dataset()
    orientation, measures = Dataset(), Dataset()
    orientation.ImageOrientationPatient = list(OBLIQUE)
    measures.PixelSpacing, measures.SliceThickness = [0.5, 0.75], 10.0
    shared.PlaneOrientationSequence = Sequence([orientation])
    shared.PixelMeasuresSequence = Sequence([measures])
    ds.SharedFunctionalGroupsSequence = Sequence([shared])
    frames = []
    for position, slope in zip(positions, slopes, strict=True):
        frame, plane, transform = Dataset(), Dataset(), Dataset()
        plane.ImagePositionPatient = [round(float(v), 4) for v in position]
        transform.RescaleSlope, transform.RescaleIntercept = slope, -1000
        frame.PlanePositionSequence = Sequence([plane])
        frame.PixelValueTransformationSequence = Sequence([transform])
        frames.append(frame)
    ds.PerFrameFunctionalGroupsSequence = Sequence(frames)
    ds.PixelData = volume.tobytes()
    ds.save_as(path, enforce_file_format=True)


def test_enhanced_multiframe_ct_is_sorted_in_space_and_rescaled_per_frame(tmp_path):
    volume = phantom((4, 6, 5))
    normal = np.cross(OBLIQUE[:3], OBLIQUE[3:])
    origin = np.array([10.0, -5.0, 30.0])
    order = [2, 0, 3, 1]  # frames stored out of spatial order
    positions = [origin + 3.0 * k * normal for k in order]
    slopes = [1, 1, 2, 1]
    _enhanced_ct(tmp_path / "enhanced.dcm", volume, positions, slopes)

    scan = open_scan(tmp_path / "enhanced.dcm")

    expected = np.empty(volume.shape, np.float32)
    for stored_index, k in enumerate(order):
        expected[k] = volume[stored_index] * slopes[stored_index] - 1000
    np.testing.assert_array_equal(scan.array, expected)
    assert scan.geometry.matches(volume_geometry(positions[1], OBLIQUE, (3.0, 0.5, 0.75)), atol_mm=1e-3)
    assert not scan.has_time_axis and scan.warnings == []


def test_undecodable_compressed_pixels_name_the_syntax():
    with pytest.raises(ScanError, match=r"JPEG-lossy.dcm: the pixel data cannot be decoded \(JPEG Extended"):
        open_scan(_shipped("JPEG-lossy.dcm"))


def test_monochrome1_inversion_does_not_overflow_16_bit_values(tmp_path):
    stored = np.array([[0, 30000], [65000, 65535]], dtype=np.uint16)
    path = write_slice(tmp_path / "mg.dcm", stored, None, orientation=None, Modality="MG")
    ds = pydicom.dcmread(path)
    ds.PhotometricInterpretation = "MONOCHROME1"
    ds.save_as(path)
    scan = open_scan(path)
    assert scan.array.dtype == np.uint16
    np.testing.assert_array_equal(scan.array, [[65535, 35535], [535, 0]])


def test_a_deflated_file_opens_with_pydicoms_pixels():
    # The whole data set is one deflate stream (pydicom's image_dfl.dcm): no pixel offset to read from.
    path = get_testdata_file("image_dfl.dcm")
    scan = open_scan(path)
    np.testing.assert_array_equal(scan.array, pydicom.dcmread(path).pixel_array)
