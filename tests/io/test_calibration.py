"""Pixel size known or unknown, never invented; value units only where the file states them."""

from __future__ import annotations

import json
import warnings

import imageio.v3 as iio
import numpy as np
import pydicom
import pytest
import tifffile
from io_scan_files import phantom, write_series, write_slice
from pydicom.data import get_testdata_file

from medview.cli.main import main
from medview.io import open_scan

CR_STORAGE = "1.2.840.10008.5.1.4.1.1.1"


def _radiograph(path, **attributes):
    """A CR projection image: no position or orientation, only what ``attributes`` add."""
    pixels = (np.arange(24 * 32, dtype=np.uint16).reshape(24, 32) * 3) % 4000
    write_slice(path, pixels, position=None, orientation=None, Modality="CR", SOPClassUID=CR_STORAGE)
    dataset = pydicom.dcmread(path)
    del dataset.PixelSpacing
    with warnings.catch_warnings():  # pydicom warns about the invalid values some cases write on purpose
        warnings.simplefilter("ignore")
        for keyword, value in attributes.items():
            setattr(dataset, keyword, value)
        dataset.save_as(path)
    return path


def test_a_zero_pixel_spacing_opens_with_pixel_size_unknown(tmp_path, capsys):
    # Philips CR files write PixelSpacing 0.000\0.000.
    path = _radiograph(tmp_path / "cr.dcm", PixelSpacing=["0.000", "0.000"])
    scan = open_scan(path)
    assert scan.units == "pixel" and not scan.spacing_known
    assert scan.spacing == (1.0, 1.0) and scan.array.shape == (24, 32)
    assert any("PixelSpacing 0.000\\0.000" in w and "unknown" in w for w in scan.warnings)

    assert main(["info", str(path), "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["units"] == "pixel"
    assert main(["info", str(path)]) == 0
    assert "px (pixel size unknown)" in capsys.readouterr().out


@pytest.mark.parametrize("spacing", [["-0.2", "0.2"], ["0.2"], ["nan", "0.2"]])
def test_a_pixel_spacing_that_is_no_size_means_unknown(tmp_path, spacing):
    scan = open_scan(_radiograph(tmp_path / "cr.dcm", PixelSpacing=spacing))
    assert scan.units == "pixel"


def test_a_non_numeric_pixel_spacing_means_unknown(tmp_path):
    path = _radiograph(tmp_path / "cr.dcm", PixelSpacing=["9.999", "9.999"])
    path.write_bytes(path.read_bytes().replace(b"9.999\\9.999", b"abc\\def    "))
    scan = open_scan(path)
    assert scan.units == "pixel" and any("abc" in w for w in scan.warnings)


def test_a_radiograph_without_any_spacing_is_in_pixels(tmp_path):
    scan = open_scan(_radiograph(tmp_path / "cr.dcm"))
    assert scan.units == "pixel" and scan.warnings == []


def test_imager_pixel_spacing_is_used_when_pixel_spacing_is_absent(tmp_path):
    scan = open_scan(_radiograph(tmp_path / "dx.dcm", ImagerPixelSpacing=[0.15, 0.2]))
    assert scan.units == "mm" and scan.spacing == pytest.approx((0.15, 0.2))
    assert any("ImagerPixelSpacing" in w and "detector" in w for w in scan.warnings)


def test_imager_pixel_spacing_is_corrected_by_the_estimated_magnification(tmp_path):
    path = _radiograph(
        tmp_path / "mg.dcm", ImagerPixelSpacing=[0.1, 0.1], EstimatedRadiographicMagnificationFactor=1.25
    )
    scan = open_scan(path)
    assert scan.spacing == pytest.approx((0.08, 0.08))
    assert any("magnification 1.25" in w for w in scan.warnings)


def test_pixel_spacing_wins_over_imager_pixel_spacing(tmp_path):
    scan = open_scan(
        _radiograph(tmp_path / "dx.dcm", PixelSpacing=[0.3, 0.3], ImagerPixelSpacing=[0.35, 0.35])
    )
    assert scan.spacing == pytest.approx((0.3, 0.3)) and scan.warnings == []


def test_an_ultrasound_frame_without_spacing_is_in_pixels(tmp_path):
    path = _radiograph(tmp_path / "us.dcm", Modality="US", SOPClassUID="1.2.840.10008.5.1.4.1.1.6.1")
    assert open_scan(path).units == "pixel"


def test_an_enhanced_mr_without_pixel_measures_is_in_pixels(tmp_path):
    from highdicom.legacy import LegacyConvertedEnhancedMRImage

    write_series(tmp_path / "mr", phantom((3, 8, 6)), Modality="MR", SOPClassUID="1.2.840.10008.5.1.4.1.1.4")
    legacy = [pydicom.dcmread(p) for p in sorted((tmp_path / "mr").iterdir())]
    enhanced = LegacyConvertedEnhancedMRImage(
        legacy, pydicom.uid.generate_uid(), 1, pydicom.uid.generate_uid(), 1
    )
    for groups in ("SharedFunctionalGroupsSequence", "PerFrameFunctionalGroupsSequence"):
        for item in enhanced.get(groups, []):
            if "PixelMeasuresSequence" in item:
                del item.PixelMeasuresSequence
    enhanced.save_as(tmp_path / "enhanced.dcm")

    scan = open_scan(tmp_path / "enhanced.dcm")
    assert scan.units == "pixel" and scan.array.shape == (3, 8, 6)


def test_ct_values_are_hounsfield_only_when_the_rescale_type_allows(tmp_path):
    ct = open_scan(get_testdata_file("CT_small.dcm"))
    assert ct.value_unit == "HU" and ct.units == "mm"
    assert open_scan(get_testdata_file("MR_small.dcm")).value_unit == ""

    slice_ = phantom((1, 6, 5))[0]
    write_slice(tmp_path / "perfusion" / "a.dcm", slice_, (0, 0, 0), RescaleType="US")
    assert open_scan(tmp_path / "perfusion" / "a.dcm").value_unit == ""
    write_slice(tmp_path / "flow" / "a.dcm", slice_, (0, 0, 0), RescaleType="ml/100ml/min")
    assert open_scan(tmp_path / "flow" / "a.dcm").value_unit == "ml/100ml/min"
    write_slice(tmp_path / "hu" / "a.dcm", slice_, (0, 0, 0), RescaleType="HU", Modality="MR")
    assert open_scan(tmp_path / "hu" / "a.dcm").value_unit == "HU"


@pytest.mark.parametrize("name", ["photo.png", "photo.jpg"])
def test_photographs_have_no_pixel_size(tmp_path, name):
    iio.imwrite(tmp_path / name, np.full((16, 20, 3), 120, np.uint8))
    scan = open_scan(tmp_path / name)
    assert scan.units == "pixel" and not scan.spacing_known


def test_a_tiff_at_screen_dpi_is_not_a_microscope_calibration(tmp_path, capsys):
    path = tmp_path / "scan72.tif"
    tifffile.imwrite(path, np.zeros((20, 30), np.uint8), resolution=(72, 72), resolutionunit="INCH")
    scan = open_scan(path)
    assert scan.units == "pixel"
    assert scan.warnings == [
        "the TIFF's resolution (72 pixels per inch) is a screen or print setting, not a microscope "
        "calibration: the pixel size is unknown"
    ]
    assert main(["info", str(path), "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["units"] == "pixel"


def test_a_tiff_with_a_microscope_resolution_is_in_microns(tmp_path, capsys):
    path = tmp_path / "tile.tif"
    # 40,000 pixels per cm = 0.25 µm per pixel, as slide scanners export.
    tifffile.imwrite(
        path, np.zeros((20, 30, 3), np.uint8), resolution=(40000, 20000), resolutionunit="CENTIMETER"
    )
    scan = open_scan(path)
    assert scan.units == "um" and scan.spacing == pytest.approx((0.5, 0.25))
    assert main(["info", str(path), "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["units"] == "um"


def test_an_ome_tiff_states_its_calibration_in_its_own_unit(tmp_path):
    path = tmp_path / "tile.ome.tif"
    metadata = {
        "PhysicalSizeX": 250,
        "PhysicalSizeXUnit": "nm",
        "PhysicalSizeY": 250,
        "PhysicalSizeYUnit": "nm",
    }
    tifffile.imwrite(path, np.zeros((20, 30, 3), np.uint8), photometric="rgb", ome=True, metadata=metadata)
    scan = open_scan(path)
    assert scan.units == "um" and scan.spacing == pytest.approx((0.25, 0.25))


def test_calibrated_ct_reports_mm(tmp_path, capsys):
    write_series(tmp_path / "ct", phantom((3, 6, 5)))
    assert main(["info", str(tmp_path / "ct"), "--json"]) == 0
    info = json.loads(capsys.readouterr().out)
    assert info["units"] == "mm" and info["value_unit"] == "HU"


def test_a_nifti_without_a_voxel_size_is_in_voxels_not_invented_mm(tmp_path):
    import struct

    import SimpleITK as sitk

    image = sitk.GetImageFromArray(np.zeros((3, 4, 5), np.int16))
    image.SetSpacing((0.5, 0.7, 2.0))
    sitk.WriteImage(image, str(tmp_path / "good.nii"))
    data = bytearray((tmp_path / "good.nii").read_bytes())
    struct.pack_into("<f", data, 80, 0.0)  # pixdim[1], the x voxel size: SimpleITK reads it as 1 mm
    (tmp_path / "no-size.nii").write_bytes(bytes(data))

    assert open_scan(tmp_path / "good.nii").spacing == pytest.approx((2.0, 0.7, 0.5))
    scan = open_scan(tmp_path / "no-size.nii")
    assert scan.units == "pixel" and scan.spacing == (1.0, 1.0, 1.0)
    assert scan.warnings == [
        "the NIfTI header gives no voxel size (pixdim[1] is 0): it is shown in voxels, nothing in mm"
    ]


def test_a_nifti_in_metres_or_microns_is_converted_to_mm(tmp_path):
    import SimpleITK as sitk

    image = sitk.GetImageFromArray(np.zeros((3, 4, 5), np.int16))
    image.SetSpacing((0.5, 0.5, 2.0))
    sitk.WriteImage(image, str(tmp_path / "mm.nii"))
    data = bytearray((tmp_path / "mm.nii").read_bytes())
    data[123] = 3  # xyzt_units: spatial unit micron
    (tmp_path / "um.nii").write_bytes(bytes(data))
    scan = open_scan(tmp_path / "um.nii")
    assert scan.units == "mm" and scan.spacing == pytest.approx((0.002, 0.0005, 0.0005))
