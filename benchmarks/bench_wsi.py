"""Whole-slide reading: a generated ~40000x40000 RGB pyramidal JPEG TIFF, medview vs OpenSlide, equal threads.

Writes the slide tile by tile (512x512 JPEG tiles, five subresolution levels as the pages that follow
the full resolution, the generic layout OpenSlide reads), then measures each reader in a fresh
process pinned to the same CPU cores, once per count in ``--cores`` (default: one core, then all),
with as many reader threads as cores on both sides: medview as napari reads it, one region at a time
whose tiles dask decodes on that many threads (dask's synchronous scheduler for one); OpenSlide as its
users read fast, that many threads reading regions at once from one shared ``OpenSlide`` object
(OpenSlide's documented thread safety; it reads concurrent regions in parallel since 3.3.1, and
openslide-python releases the GIL while it reads). Figures: time to first view (open + default window
+ the coarsest level read whole), ``--regions`` random 1024x1024 full-resolution regions per second,
and peak resident memory. The regions line also gives each side's CPU milliseconds per region,
which other load on a shared machine disturbs less than the rate.

Prints three JSON lines per core count (``benchmarks/measurement.py``); every ratio is above 1 when
medview is better: regions/s medview / OpenSlide, first view OpenSlide s / medview s, peak memory
OpenSlide MB / medview MB. Target: medview peak RSS < 1 GB.

    nice .venv/bin/python benchmarks/bench_wsi.py [--size 40000] [--regions 200] [--cores 1,all]
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import tifffile
from measurement import core_counts, emit, run_pinned

TILE = 512
REGION = 1024
LEVELS = 6
REFERENCE = "openslide-python read_region on the same file, one shared OpenSlide object"
_OPTIONS = {
    "tile": (TILE, TILE),
    "photometric": "rgb",
    "compression": "jpeg",
    "compressionargs": {"level": 90},
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=40000, help="slide width and height in pixels")
    parser.add_argument("--regions", type=int, default=200)
    parser.add_argument("--cores", default="1,all", help="core counts to pin both readers to, e.g. 1,all")
    parser.add_argument("--worker", choices=["medview", "openslide"], help=argparse.SUPPRESS)
    parser.add_argument("--path", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        print(json.dumps(WORKERS[args.worker](args.path, args.regions, int(args.cores))))
        return
    counts = core_counts(args.cores)
    with tempfile.TemporaryDirectory(prefix="bench_wsi_") as folder:
        path = Path(folder) / "slide.tif"
        start = time.perf_counter()
        write_slide(path, args.size)
        generation_s = time.perf_counter() - start
        file_mb = round(path.stat().st_size / 2**20, 1)
        for cores in counts:
            command = ["--path", str(path), "--regions", str(args.regions), "--cores", str(cores)]
            medview, openslide = (
                run_pinned([__file__, "--worker", name, *command], cores) for name in WORKERS
            )
            _emit(
                medview,
                openslide,
                cores,
                shape=[args.size, args.size, 3],
                file_mb=file_mb,
                generation_s=round(generation_s, 1),
                regions=args.regions,
            )


def _emit(medview: dict, openslide: dict, cores: int, **details) -> None:
    threads = {"medview": medview["threads"], "reference": openslide["threads"]}
    common = {"reference": REFERENCE, "threads": threads, "cores": cores, **details}
    emit(
        "wsi",
        f"random {REGION}x{REGION} full-resolution regions read per second",
        unit="regions/s",
        medview=medview["regions_per_s"],
        reference_value=openslide["regions_per_s"],
        ratio=medview["regions_per_s"] / openslide["regions_per_s"],
        ratio_definition="medview regions/s / reference regions/s (= reference_s / medview_s, speedup)",
        medview_cpu_ms_per_region=medview["cpu_ms_per_region"],
        reference_cpu_ms_per_region=openslide["cpu_ms_per_region"],
        **common,
    )
    emit(
        "wsi",
        "seconds to first view: open, default window, coarsest level read whole",
        unit="s",
        medview=medview["first_view_s"],
        reference_value=openslide["first_view_s"],
        ratio=openslide["first_view_s"] / medview["first_view_s"],
        ratio_definition="reference_s / medview_s (speedup)",
        **common,
    )
    emit(
        "wsi",
        "peak resident memory of the process over first view and the regions",
        unit="MB",
        medview=medview["peak_rss_mb"],
        reference_value=openslide["peak_rss_mb"],
        ratio=openslide["peak_rss_mb"] / medview["peak_rss_mb"],
        ratio_definition="reference_mb / medview_mb (memory saving)",
        target="medview < 1024 MB",
        meets_target=medview["peak_rss_mb"] < 1024,
        **common,
    )


def write_slide(path: Path, size: int) -> None:
    """Write the pyramid from a few distinct pre-compressed tiles (JPEG-encoding 8,000 tiles would
    take minutes): tifffile writes a small slide once, and its tile bytes are reused as-is."""
    from medview.demo import make_tile

    sample = make_tile(0, shape=(4 * TILE, 4 * TILE)).scan.array
    sample_path = path.with_name("sample.tif")
    tifffile.imwrite(sample_path, sample, **_OPTIONS)
    with tifffile.TiffFile(sample_path) as tiff:
        page = tiff.pages.first
        tables = page.jpegtables
        with open(sample_path, "rb") as handle:
            tiles = []
            for offset, count in zip(page.dataoffsets, page.databytecounts, strict=True):
                handle.seek(offset)
                tiles.append(handle.read(count))

    def tile_bytes(shape: tuple[int, int]):
        count = -(-shape[0] // TILE) * -(-shape[1] // TILE)
        return (tiles[index % len(tiles)] for index in range(count))

    with tifffile.TiffWriter(path, bigtiff=True) as tiff:
        for level in range(LEVELS):
            side = max(size >> level, TILE)
            tiff.write(
                tile_bytes((side, side)),
                shape=(side, side, 3),
                dtype=np.uint8,
                jpegtables=tables,
                subfiletype=1 if level else 0,
                resolution=(1e4 / (0.25 * 2**level),) * 2,
                resolutionunit="CENTIMETER",
                **_OPTIONS,
            )
    sample_path.unlink()


def medview_worker(path: Path, regions: int, threads: int) -> dict:
    import dask

    from medview.core.windows import default_window
    from medview.io import open_scan

    # what napari's dask reads run on: a thread pool, here as large as the reference's
    scheduler = (
        {"scheduler": "synchronous"} if threads == 1 else {"scheduler": "threads", "num_workers": threads}
    )
    with dask.config.set(scheduler):
        start = time.perf_counter()
        scan = open_scan(path)
        default_window(scan)
        np.asarray(scan.levels[-1])
        first_view = time.perf_counter() - start
        full = scan.levels[0]
        corners = _corners(full.shape, regions)
        start, cpu = time.perf_counter(), time.process_time()
        for y, x in corners:
            region = full[y : y + REGION, x : x + REGION].compute()
            assert region.shape == (REGION, REGION, 3)
        seconds, cpu = time.perf_counter() - start, time.process_time() - cpu
    return _figures(first_view, regions / seconds, cpu / regions, threads)


def openslide_worker(path: Path, regions: int, threads: int) -> dict:
    import openslide

    start = time.perf_counter()
    slide = openslide.OpenSlide(str(path))
    np.asarray(slide.read_region((0, 0), slide.level_count - 1, slide.level_dimensions[-1]))
    first_view = time.perf_counter() - start
    width, height = slide.dimensions

    def read(corner: tuple[int, int]) -> None:
        y, x = corner
        region = np.asarray(slide.read_region((x, y), 0, (REGION, REGION)))[..., :3]
        assert region.shape == (REGION, REGION, 3)

    corners = _corners((height, width), regions)
    start, cpu = time.perf_counter(), time.process_time()
    if threads == 1:
        for corner in corners:
            read(corner)
    else:
        with ThreadPoolExecutor(max_workers=threads) as pool:
            list(pool.map(read, corners))
    seconds, cpu = time.perf_counter() - start, time.process_time() - cpu
    return _figures(first_view, regions / seconds, cpu / regions, threads)


WORKERS = {"medview": medview_worker, "openslide": openslide_worker}


def _corners(shape: tuple[int, ...], count: int) -> list[tuple[int, int]]:
    rng = np.random.default_rng(0)
    return [
        (int(rng.integers(0, shape[0] - REGION)), int(rng.integers(0, shape[1] - REGION)))
        for _ in range(count)
    ]


def _figures(first_view: float, regions_per_s: float, cpu_s_per_region: float, threads: int) -> dict:
    # VmHWM, not ru_maxrss: Linux carries ru_maxrss over exec from the parent that generated the slide.
    status = Path("/proc/self/status").read_text()
    peak_kib = int(next(line.split()[1] for line in status.splitlines() if line.startswith("VmHWM:")))
    return {
        "first_view_s": round(first_view, 3),
        "regions_per_s": round(regions_per_s, 2),
        "cpu_ms_per_region": round(1000 * cpu_s_per_region, 2),
        "peak_rss_mb": round(peak_kib / 1024, 1),
        "threads": threads,
    }


if __name__ == "__main__":
    main()
