"""What every benchmark prints: one JSON line per measurement, all in the same shape; and equal cores.

A line names the benchmark and what it measured, medview's figure and its unit, the reference it is
compared with (``"reference": null`` with ``why_no_reference`` when there is none, e.g. a target
from an issue), the threads each side ran with and the CPU cores they were allowed, and ``ratio``
with its definition. Every ratio points the same way: **above 1 means medview is better**, so
``higher_is_better`` is true on every line that has a ratio. For times and memory the ratio is
reference / medview (``speedup``, a saving); for rates and scores it is medview / reference; when
the comparison is with a target, the target stands in for the reference. A line without a ratio
(a count of bugs) says in ``higher_is_better`` which way medview's own figure is better.

Sides that can use several threads run in processes pinned to the same CPU cores
(:func:`run_pinned`), so neither side gets cores the other does not.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Sequence

RATIO_DIRECTION = "above 1 means medview is better"


def emit(
    benchmark: str,
    measurement: str,
    *,
    unit: str,
    medview: object,
    reference: str | None,
    threads: dict[str, object],
    ratio: float | None,
    ratio_definition: str,
    reference_value: object = None,
    why_no_reference: str | None = None,
    cores: int | None = None,
    higher_is_better: bool = True,
    **details: object,
) -> dict:
    """Print one measurement as a JSON line (see the module docstring) and return it.

    Args:
        threads: ``{"medview": N, "reference": M}`` (``M`` is ``None`` when there is no reference);
            more keys may say how the threads are used.
        cores: how many CPU cores both sides' processes were pinned to; ``None`` when not pinned.
        higher_is_better: about ``ratio``, which is always true; about ``medview`` when there is no ratio.
    """
    if reference is None and not why_no_reference:
        raise ValueError(f"{benchmark}/{measurement}: a line without a reference must say why")
    if not {"medview", "reference"} <= threads.keys():
        raise ValueError(f"{benchmark}/{measurement}: threads must name medview's and the reference's")
    if ratio is not None and not higher_is_better:
        raise ValueError(f"{benchmark}/{measurement}: every ratio is defined so that higher is better")
    line = {
        "benchmark": benchmark,
        "measurement": measurement,
        "unit": unit,
        "medview": medview,
        "reference": reference,
        **({"why_no_reference": why_no_reference} if reference is None else {}),
        "reference_value": reference_value,
        "threads": threads,
        "cores": cores,
        "ratio": None if ratio is None else round(float(ratio), 3),
        "ratio_definition": ratio_definition,
        "higher_is_better": higher_is_better,
        **details,
    }
    print(json.dumps(line), flush=True)
    return line


def available_cores() -> list[int]:
    """The CPU cores this process may run on."""
    return sorted(os.sched_getaffinity(0))


def core_counts(text: str) -> list[int]:
    """``"1,all"`` -> ``[1, <cores available>]``: the ``--cores`` option of the pinned benchmarks."""
    total = len(available_cores())
    counts = [total if part.strip() == "all" else int(part) for part in text.split(",") if part.strip()]
    if not counts or any(not 1 <= count <= total for count in counts):
        raise SystemExit(f"--cores takes counts from 1 to {total} (or 'all'), not {text!r}")
    return list(dict.fromkeys(counts))


def run_pinned(command: Sequence[str], cores: int) -> dict:
    """Run a worker command on the first ``cores`` available cores; returns the last JSON line it printed.

    The affinity is set in the child before Python starts, so every thread any library creates
    (OpenMP, BLAS, dask, scipy's workers) inherits it; the usual thread-count variables say the same.
    """
    chosen = available_cores()[:cores]
    environment = dict(os.environ)
    for name in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS"):
        environment[name] = str(cores)
    result = subprocess.run(
        [sys.executable, *command],
        capture_output=True,
        text=True,
        env=environment,
        preexec_fn=lambda: os.sched_setaffinity(0, chosen),
    )
    if result.returncode != 0:
        raise SystemExit(f"worker {' '.join(command)} failed:\n{result.stderr[-4000:]}")
    return json.loads(result.stdout.strip().splitlines()[-1])
