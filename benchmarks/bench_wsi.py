"""Whole-slide reading: a generated ~40000x40000 RGB pyramidal JPEG TIFF, medview vs OpenSlide.

Writes the slide tile by tile (512x512 JPEG tiles, five subresolution levels as the pages that follow
the full resolution, the generic layout OpenSlide reads), then measures in a fresh process each:
time to first view (open + default window + the coarsest level read whole), 200 random 1024x1024
full-resolution regions per second, and peak resident memory. Prints one JSON line; ``ratio`` is
medview's regions per second over OpenSlide's (higher is better). Target: medview peak RSS < 1 GB.

    python benchmarks/bench_wsi.py [--size 40000] [--regions 200]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import tifffile

TILE = 512
REGION = 1024
LEVELS = 6
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
    parser.add_argument("--worker", choices=["medview", "openslide"], help=argparse.SUPPRESS)
    parser.add_argument("--path", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        print(json.dumps(WORKERS[args.worker](args.path, args.regions)))
        return
    with tempfile.TemporaryDirectory(prefix="bench_wsi_") as folder:
        path = Path(folder) / "slide.tif"
        start = time.perf_counter()
        write_slide(path, args.size)
        generation_s = time.perf_counter() - start
        results = {name: run_worker(name, path, args.regions) for name in WORKERS}
        file_mb = path.stat().st_size / 2**20
    medview, openslide = results["medview"], results["openslide"]
    print(
        json.dumps(
            {
                "benchmark": "wsi",
                "shape": [args.size, args.size, 3],
                "file_mb": round(file_mb, 1),
                "generation_s": round(generation_s, 1),
                "first_view_s": medview["first_view_s"],
                "regions_per_s": medview["regions_per_s"],
                "peak_rss_mb": medview["peak_rss_mb"],
                "openslide_first_view_s": openslide["first_view_s"],
                "openslide_regions_per_s": openslide["regions_per_s"],
                "openslide_peak_rss_mb": openslide["peak_rss_mb"],
                "reference": "openslide-python read_region on the same file",
                "ratio": round(medview["regions_per_s"] / openslide["regions_per_s"], 3),
                "target": "peak_rss_mb < 1024",
                "meets_target": medview["peak_rss_mb"] < 1024,
            }
        )
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


def run_worker(name: str, path: Path, regions: int) -> dict:
    command = [sys.executable, __file__, "--worker", name, "--path", str(path), "--regions", str(regions)]
    result = subprocess.run(command, capture_output=True, text=True, check=True)
    return json.loads(result.stdout.strip().splitlines()[-1])


def medview_worker(path: Path, regions: int) -> dict:
    from medview.core.windows import default_window
    from medview.io import open_scan

    start = time.perf_counter()
    scan = open_scan(path)
    default_window(scan)
    np.asarray(scan.levels[-1])
    first_view = time.perf_counter() - start
    full = scan.levels[0]
    corners = _corners(full.shape, regions)
    start = time.perf_counter()
    for y, x in corners:
        region = full[y : y + REGION, x : x + REGION].compute()
        assert region.shape == (REGION, REGION, 3)
    return _figures(first_view, regions / (time.perf_counter() - start))


def openslide_worker(path: Path, regions: int) -> dict:
    import openslide

    start = time.perf_counter()
    slide = openslide.OpenSlide(str(path))
    np.asarray(slide.read_region((0, 0), slide.level_count - 1, slide.level_dimensions[-1]))
    first_view = time.perf_counter() - start
    width, height = slide.dimensions
    corners = _corners((height, width), regions)
    start = time.perf_counter()
    for y, x in corners:
        region = np.asarray(slide.read_region((x, y), 0, (REGION, REGION)))[..., :3]
        assert region.shape == (REGION, REGION, 3)
    return _figures(first_view, regions / (time.perf_counter() - start))


WORKERS = {"medview": medview_worker, "openslide": openslide_worker}


def _corners(shape: tuple[int, ...], count: int) -> list[tuple[int, int]]:
    rng = np.random.default_rng(0)
    return [
        (int(rng.integers(0, shape[0] - REGION)), int(rng.integers(0, shape[1] - REGION)))
        for _ in range(count)
    ]


def _figures(first_view: float, regions_per_s: float) -> dict:
    # VmHWM, not ru_maxrss: Linux carries ru_maxrss over exec from the parent that generated the slide.
    status = Path("/proc/self/status").read_text()
    peak_kib = int(next(line.split()[1] for line in status.splitlines() if line.startswith("VmHWM:")))
    return {
        "first_view_s": round(first_view, 3),
        "regions_per_s": round(regions_per_s, 2),
        "peak_rss_mb": round(peak_kib / 1024, 1),
    }


if __name__ == "__main__":
    main()
