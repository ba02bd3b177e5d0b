"""Open a 512x512x300 int16 CT series: medview vs SimpleITK's ImageSeriesReader vs reading the raw bytes.

Writes the series (uncompressed, shuffled file names) to a temporary folder, warms the page cache,
then times each reader (best wall and CPU seconds of ``--repeats`` interleaved runs) and prints one
JSON line; the ratios use wall time. Targets: medview no slower
than SimpleITK (ratio <= 1.0) and within 3x of the raw read.

    python benchmarks/bench_open_dicom.py [--slices 300] [--repeats 3]
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

import numpy as np
import SimpleITK as sitk
from pydicom.dataset import FileDataset, FileMetaDataset
from pydicom.uid import CTImageStorage, ExplicitVRLittleEndian, generate_uid

from medview.io import open_scan

ROWS = COLUMNS = 512


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--slices", type=int, default=300)
    parser.add_argument("--repeats", type=int, default=7)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench_dicom_") as folder:
        volume = write_series(Path(folder), args.slices)
        files = sorted(Path(folder).iterdir())
        check(open_scan(folder).array, volume)
        readers = {
            "medview": lambda: open_scan(folder),
            "simpleitk": lambda: read_with_simpleitk(folder),
            "raw_read": lambda: [f.read_bytes() for f in files],
        }
        wall, cpu = timed(readers, args.repeats)
    times = {f"{name}_s": seconds for name, seconds in wall.items()}
    times.update({f"{name}_cpu_s": seconds for name, seconds in cpu.items()})
    ratio_sitk = wall["medview"] / wall["simpleitk"]
    ratio_raw = wall["medview"] / wall["raw_read"]
    print(
        json.dumps(
            {
                "benchmark": "open_dicom",
                "shape": [args.slices, ROWS, COLUMNS],
                "dtype": "int16",
                **{key: round(value, 4) for key, value in times.items()},
                "reference": "SimpleITK ImageSeriesReader (GetGDCMSeriesFileNames + Execute)",
                "ratio": round(ratio_sitk, 3),
                "ratio_vs_raw_read": round(ratio_raw, 3),
                "target": "ratio <= 1.0 and ratio_vs_raw_read <= 3.0",
                "meets_target": ratio_sitk <= 1.0 and ratio_raw <= 3.0,
            }
        )
    )


def write_series(folder: Path, slices: int) -> np.ndarray:
    """Write an int16 CT series (intercept -1024), file names shuffled; returns the expected HU volume."""
    rng = np.random.default_rng(0)
    stored = rng.integers(0, 3000, size=(slices, ROWS, COLUMNS), dtype=np.int16)
    series_uid, study_uid = generate_uid(), generate_uid()
    for rank, index in enumerate(rng.permutation(slices)):
        meta = FileMetaDataset()
        meta.MediaStorageSOPClassUID = CTImageStorage
        meta.MediaStorageSOPInstanceUID = generate_uid()
        meta.TransferSyntaxUID = ExplicitVRLittleEndian
        ds = FileDataset(str(folder / f"{rank:05d}.dcm"), {}, file_meta=meta, preamble=b"\0" * 128)
        ds.SOPClassUID, ds.SOPInstanceUID = CTImageStorage, meta.MediaStorageSOPInstanceUID
        ds.StudyInstanceUID, ds.SeriesInstanceUID, ds.Modality = study_uid, series_uid, "CT"
        ds.PatientName, ds.PatientID, ds.InstanceNumber = "Bench^Mark", "0", rank + 1
        ds.ImageOrientationPatient = [1, 0, 0, 0, 1, 0]
        ds.ImagePositionPatient = [-200.0, -180.0, -300.0 + 1.25 * float(index)]
        ds.PixelSpacing, ds.SliceThickness = [0.7, 0.7], 1.25
        ds.Rows, ds.Columns, ds.SamplesPerPixel = ROWS, COLUMNS, 1
        ds.PhotometricInterpretation = "MONOCHROME2"
        ds.BitsAllocated, ds.BitsStored, ds.HighBit, ds.PixelRepresentation = 16, 16, 15, 1
        ds.RescaleSlope, ds.RescaleIntercept = 1, -1024
        ds.WindowCenter, ds.WindowWidth = 40, 400
        ds.PixelData = stored[index].tobytes()
        ds.save_as(folder / f"{rank:05d}.dcm", enforce_file_format=True)
    return stored - np.int16(1024)


def read_with_simpleitk(folder: str) -> np.ndarray:
    reader = sitk.ImageSeriesReader()
    reader.SetFileNames(reader.GetGDCMSeriesFileNames(folder))
    return sitk.GetArrayViewFromImage(reader.Execute())


def check(array: np.ndarray, expected: np.ndarray) -> None:
    if not np.array_equal(array, expected):
        raise SystemExit("medview read different pixels than were written")


def timed(readers: dict, repeats: int) -> tuple[dict[str, float], dict[str, float]]:
    """Best wall and CPU seconds of each reader over interleaved runs, after one warm-up each.

    The best of several runs (as ``timeit`` reports) is the figure least disturbed by other load on a
    shared machine; interleaving gives every reader the same conditions.
    """
    for read in readers.values():
        read()  # warm the page cache and imports
    wall: dict[str, list[float]] = {name: [] for name in readers}
    cpu: dict[str, list[float]] = {name: [] for name in readers}
    for _ in range(repeats):
        for name, read in readers.items():
            start_wall, start_cpu = time.perf_counter(), time.process_time()
            read()
            wall[name].append(time.perf_counter() - start_wall)
            cpu[name].append(time.process_time() - start_cpu)
    return {name: min(values) for name, values in wall.items()}, {
        name: min(values) for name, values in cpu.items()
    }


if __name__ == "__main__":
    main()
