"""medview's npe2 contributions work in plain napari: the manifest, reader, writer and sample data."""

from __future__ import annotations

import npe2
import numpy as np
import pytest

from medview.io import open_label_map, write_scan
from medview.qt import napari_hooks


def test_manifest_is_discovered_with_reader_writer_and_samples():
    manager = npe2.PluginManager.instance()
    manager.discover()
    manifest = manager.get_manifest("medview")
    assert {s.key for s in manifest.contributions.sample_data} == {"demo-ct", "demo-radiograph", "demo-tile"}
    assert manifest.contributions.readers[0].accepts_directories


def test_reader_opens_a_nifti_as_an_image_layer_with_its_spacing(small_ct, tmp_path):
    path = write_scan(small_ct.scan, tmp_path / "ct.nii.gz")
    reader = napari_hooks.get_reader(str(path))
    [(data, kwargs, kind)] = reader(str(path))
    assert kind == "image" and data.shape == (40, 64, 64)
    assert kwargs["scale"] == pytest.approx(small_ct.scan.spacing)
    assert napari_hooks.get_reader(str(tmp_path / "notes.txt")) is None


def test_writer_saves_labels_with_their_geometry(small_ct, tmp_path):
    _, _, (data, kwargs, kind) = (None, None, napari_hooks._case_layers(small_ct)[1])
    assert kind == "labels"
    written = napari_hooks.write_labels(str(tmp_path / "truth.nii.gz"), data, kwargs)
    back = open_label_map(written[0], like=small_ct.scan)
    np.testing.assert_array_equal(back.array, small_ct.truth.array)
    assert back.labels.name_of(2) == "lung"


@pytest.mark.gui
def test_every_panel_is_a_napari_widget(qtbot):
    from napari.components import ViewerModel

    manifest = npe2.PluginManifest.from_distribution("medview")
    titles = {widget.display_name for widget in manifest.contributions.widgets}
    assert titles == {"Models", "Metrics", "Annotate", "Cases (workspace)", "Train"}
    viewer = ViewerModel()
    for widget in manifest.contributions.widgets:
        panel = widget.exec(kwargs={"napari_viewer": viewer})
        qtbot.addWidget(panel)
        assert panel.isWidgetType()
