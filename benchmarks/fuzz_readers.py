"""Fuzzing the readers: thousands of damaged files, each opened in a sandbox; none may be a bug.

Builds a small valid seed of every format medview opens (DICOM uncompressed, RLE, JPEG, JPEG-LS,
JPEG 2000, enhanced multi-frame, SEG; NIfTI-1 and NIfTI-2, NRRD, MHA/MHD, PNG, JPEG, TIFF, a
pyramidal JPEG-tiled TIFF slide), damages seeded copies of them (``tests/io/fuzz_cases.py``) and
opens each in worker processes with a 3 GiB address-space limit and a 20 s timeout
(``tests/io/fuzz_runner.py``). A file must open and render, or be refused with a ``ScanError``
naming it; anything else (another exception, a crash, a timeout, running out of memory) is a bug.
Prints one JSON line (``benchmarks/measurement.py``); each bug goes to stderr. There is no
reference and no ratio (a correctness harness): the figure is the number of bugs, lower is better,
target ``bugs == 0``. Each of ``--workers`` processes opens one file at a time.

    python benchmarks/fuzz_readers.py [--count 5000] [--seed 0] [--workers 2]
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

from measurement import available_cores, emit

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests" / "io"))

from fuzz_cases import seeded_cases  # noqa: E402
from fuzz_runner import MEMORY_LIMIT, TIMEOUT_S, run_cases  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=5000, help="mutated files to try")
    parser.add_argument("--seed", type=int, default=0, help="seed of the mutations")
    parser.add_argument("--workers", type=int, default=min(2, os.cpu_count() or 1))
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="fuzz_readers_") as folder:
        start = time.perf_counter()
        cases = seeded_cases(Path(folder), args.count, args.seed)
        generation_s = time.perf_counter() - start
        summary = run_cases(cases, workers=args.workers)
        for result in summary.bugs:
            print(
                f"{result.outcome}: {result.case.seed} / {result.case.mutation}: {result.detail}",
                file=sys.stderr,
            )
    counts = summary.counts()
    emit(
        "fuzz_readers",
        "damaged files that crashed, hung, ran out of memory or raised anything but a ScanError",
        unit="bugs",
        medview=counts["bugs"],
        reference=None,
        why_no_reference="a correctness harness: each damaged file must open and render or be refused",
        threads={"medview": args.workers, "reference": None, "medview_unit": "worker processes"},
        cores=len(available_cores()),
        ratio=None,
        ratio_definition="none: the figure is a count of bugs",
        higher_is_better=False,
        target="bugs == 0",
        meets_target=counts["bugs"] == 0,
        **counts,
        seconds=round(summary.seconds, 1),
        generation_s=round(generation_s, 1),
        files_per_s=round(counts["files"] / max(summary.seconds, 1e-9), 1),
        seeds=len({case.seed for case in cases}),
        seed=args.seed,
        workers=args.workers,
        memory_limit_gib=MEMORY_LIMIT / 2**30,
        timeout_s=TIMEOUT_S,
        bug_kinds=summary.bug_kinds(),
    )


if __name__ == "__main__":
    main()
