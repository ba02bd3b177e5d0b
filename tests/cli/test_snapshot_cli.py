"""``medview snapshot`` renders the middle slice, windowed, at true aspect, with an optional overlay."""

from __future__ import annotations

import numpy as np
from PIL import Image

from medview.cli.main import main
from medview.core.geometry import Geometry
from medview.core.scan import LabelMap, Scan, Window
from medview.io import write_label_map, write_scan


def test_snapshot_of_the_ct_with_overlay_differs_only_where_labels_are(small_ct, tmp_path):
    scan_path = write_scan(small_ct.scan, tmp_path / "ct.nii.gz")
    truth_path = write_label_map(small_ct.truth, tmp_path / "truth.nii.gz")
    assert main(["snapshot", str(scan_path), "-o", str(tmp_path / "plain.png")]) == 0
    assert (
        main(["snapshot", str(scan_path), "--overlay", str(truth_path), "-o", str(tmp_path / "over.png")])
        == 0
    )
    plain = np.asarray(Image.open(tmp_path / "plain.png")).astype(int)
    over = np.asarray(Image.open(tmp_path / "over.png")).astype(int)
    assert plain.shape == over.shape == (64, 64, 3)
    changed = np.any(plain != over, axis=-1)
    labelled = small_ct.truth.array[20] > 0
    assert changed[labelled].mean() > 0.95 and not changed[~labelled].any()


def test_anisotropic_pixels_are_drawn_at_their_physical_aspect(tmp_path):
    pixels = np.tile(np.arange(10, dtype=np.int16), (20, 1))  # 20 rows x 10 columns
    scan = Scan(pixels, Geometry.from_spacing((0.5, 2.0)), window=Window(5, 10))
    path = write_scan(scan, tmp_path / "xray.nii.gz")
    assert main(["snapshot", str(path), "-o", str(tmp_path / "out.png")]) == 0
    shot = np.asarray(Image.open(tmp_path / "out.png"))
    assert shot.shape == (20, 40, 3)  # 10 mm tall, 20 mm wide at 0.5 mm per pixel
    assert shot[0, 0, 0] < shot[0, -1, 0]


def test_an_overlay_of_another_grid_is_refused(small_ct, tmp_path, capsys):
    scan_path = write_scan(small_ct.scan, tmp_path / "ct.nii.gz")
    other = LabelMap(np.zeros((5, 5, 5), np.uint8), Geometry.from_spacing((1, 1, 1)))
    other_path = write_label_map(other, tmp_path / "other.nii.gz")
    code = main(["snapshot", str(scan_path), "--overlay", str(other_path), "-o", str(tmp_path / "x.png")])
    assert code == 2
    assert "other.nii.gz" in capsys.readouterr().err
    assert not (tmp_path / "x.png").exists()
