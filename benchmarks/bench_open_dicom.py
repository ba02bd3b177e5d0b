"""Open a 512x512x300 int16 CT series: medview vs SimpleITK's ImageSeriesReader vs reading the raw bytes.

Writes the series (uncompressed, shuffled file names) to a temporary folder, then, in a process pinned
to the same CPU cores for every reader, once per count in ``--cores`` (default: one core, then all),
warms the page cache and times each reader (best wall and CPU seconds of ``--repeats`` interleaved
runs). Threads: medview parses headers and reads slices on its own pool of 4 threads, which the
pinning confines to the cores given; SimpleITK gets ITK's global thread count set to the cores (GDCM
reads the files one after another whatever it is); the raw read is one Python loop.

Prints two JSON lines per core count (``benchmarks/measurement.py``), one per reference; ratios use
wall time and are above 1 when medview is faster: SimpleITK s / medview s (target >= 1.0) and raw
read s / medview s (target >= 1/3, i.e. within 3x of reading the bytes).

    nice .venv/bin/python benchmarks/bench_open_dicom.py [--slices 300] [--repeats 7] [--cores 1,all]
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

import numpy as np
import SimpleITK as sitk
from measurement import core_counts, emit, run_pinned
from pydicom.dataset import FileDataset, FileMetaDataset
from pydicom.uid import CTImageStorage, ExplicitVRLittleEndian, generate_uid

from medview.io import open_scan
from medview.io.dicom_reader import _READ_THREADS

ROWS = COLUMNS = 512


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--slices", type=int, default=300)
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--cores", default="1,all", help="core counts to pin the readers to, e.g. 1,all")
    parser.add_argument("--worker", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        print(json.dumps(time_readers(args.worker, args.repeats, int(args.cores))))
        return
    with tempfile.TemporaryDirectory(prefix="bench_dicom_") as folder:
        volume = write_series(Path(folder), args.slices)
        check(open_scan(folder).array, volume)
        for cores in core_counts(args.cores):
            command = [__file__, "--worker", folder, "--repeats", str(args.repeats), "--cores", str(cores)]
            timings = run_pinned(command, cores)
            wall, cpu, threads = timings["wall"], timings["cpu"], timings["threads"]
            for name, reference, target in (
                ("simpleitk", "SimpleITK ImageSeriesReader (GetGDCMSeriesFileNames + Execute)", 1.0),
                ("raw_read", "reading every file's bytes (Path.read_bytes), no parsing", 1 / 3),
            ):
                ratio = wall[name] / wall["medview"]
                emit(
                    "open_dicom",
                    f"seconds to open the series, against {name.replace('_', ' ')}",
                    unit="s",
                    medview=round(wall["medview"], 4),
                    reference=reference,
                    reference_value=round(wall[name], 4),
                    threads={"medview": threads["medview"], "reference": threads[name]},
                    cores=cores,
                    ratio=ratio,
                    ratio_definition="reference_s / medview_s (speedup)",
                    target=f"ratio >= {target:.3g}",
                    meets_target=ratio >= target,
                    medview_cpu_s=round(cpu["medview"], 4),
                    reference_cpu_s=round(cpu[name], 4),
                    shape=[args.slices, ROWS, COLUMNS],
                    dtype="int16",
                    repeats=args.repeats,
                )


def time_readers(folder: Path, repeats: int, cores: int) -> dict:
    """Best wall and CPU seconds of each reader (run in the pinned worker process), and their threads."""
    sitk.ProcessObject.SetGlobalDefaultNumberOfThreads(cores)
    files = sorted(folder.iterdir())
    readers = {
        "medview": lambda: open_scan(folder),
        "simpleitk": lambda: read_with_simpleitk(str(folder)),
        "raw_read": lambda: [f.read_bytes() for f in files],
    }
    wall, cpu = timed(readers, repeats)
    threads = {
        "medview": _READ_THREADS,
        "simpleitk": sitk.ProcessObject.GetGlobalDefaultNumberOfThreads(),
        "raw_read": 1,
    }
    return {"wall": wall, "cpu": cpu, "threads": threads}


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
