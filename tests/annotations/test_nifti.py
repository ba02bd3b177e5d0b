import numpy as np
import pytest

from medview.annotations.nifti import AnnotationMismatchError, load_nifti, save_nifti
from medview.core.errors import InputError
from medview.core.geometry import Geometry
from medview.core.labels import preset
from medview.core.provenance import Provenance
from medview.core.scan import LabelMap, Scan


def _oblique_geometry(origin=(5.0, -20.0, 30.0)):
    angle = np.deg2rad(20)
    rotation = np.array([[1, 0, 0], [0, np.cos(angle), -np.sin(angle)], [0, np.sin(angle), np.cos(angle)]])
    return Geometry.from_spacing((3.0, 0.8, 0.6), origin, rotation)


def _case(origin=(5.0, -20.0, 30.0)):
    geometry = _oblique_geometry(origin)
    scan = Scan(np.zeros((5, 7, 9), dtype=np.int16), geometry, modality="CT", name="phantom")
    array = np.zeros((5, 7, 9), dtype=np.uint8)
    array[1, 2, 3], array[4, 6, 8] = 1, 2
    return scan, LabelMap(array, geometry, preset("liver-lesion"), Provenance.predicted("unet", "1.2"))


def test_round_trip_keeps_voxels_geometry_labels_and_provenance(tmp_path):
    scan, label_map = _case()
    path = save_nifti(label_map, tmp_path / "case.nii.gz", scan)
    loaded = load_nifti(path, scan)
    assert np.array_equal(loaded.array, label_map.array)
    assert loaded.geometry == scan.geometry
    assert loaded.labels == preset("liver-lesion")
    assert loaded.provenance == label_map.provenance


def test_mismatched_shape_is_refused_with_a_clear_message(tmp_path):
    scan, label_map = _case()
    other = Scan(np.zeros((5, 7, 8), dtype=np.int16), scan.geometry, name="other")
    path = save_nifti(label_map, tmp_path / "case.nii.gz")
    expected = (
        r"case.nii.gz: the annotation is 9 x 7 x 5 \(x, y, z\) voxels but the scan is 8 x 7 x 5 \(x, y, z\)"
    )
    with pytest.raises(AnnotationMismatchError, match=expected) as refused:
        load_nifti(path, other)
    assert refused.value.misfit.kind == "shape" and refused.value.misfit.overlaps
    with pytest.raises(AnnotationMismatchError, match=r"9 x 7 x 5 \(x, y, z\) voxels"):
        save_nifti(label_map, tmp_path / "again.nii.gz", other)


def test_mismatched_geometry_is_refused_or_resampled_on_request(tmp_path):
    scan, label_map = _case()
    shifted_scan = Scan(scan.array, _oblique_geometry(origin=(8.0, -20.0, 30.0)), name="shifted")
    path = save_nifti(label_map, tmp_path / "case.nii.gz")
    # the scan's origin moved 3 mm towards the head (S, patient z): the annotation lies 3 mm below it
    expected = (
        r"shifted by 3.00 mm \(z -3.00\): its first voxel is at \(x, y, z\) = \(30.00, -20.00, 5.00\) mm, "
        r"the scan's at \(x, y, z\) = \(30.00, -20.00, 8.00\) mm; resample it nearest-neighbour"
    )
    with pytest.raises(AnnotationMismatchError, match=expected):
        load_nifti(path, shifted_scan)
    resampled = load_nifti(path, shifted_scan, resample=True)
    assert resampled.fits(shifted_scan)
    # the scan moved one 3 mm slice along z: the voxel at slice 4 is now at slice 3
    assert resampled.array[3, 6, 8] == 2 and resampled.array[0, 2, 3] == 1


def test_unreadable_file_names_the_file(tmp_path):
    path = tmp_path / "broken.nii.gz"
    path.write_bytes(b"nope")
    with pytest.raises(InputError, match="broken.nii.gz"):
        load_nifti(path)
