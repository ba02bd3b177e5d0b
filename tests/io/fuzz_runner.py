"""Open fuzzed files in sandboxed worker processes and sort the outcomes: opened, refused, or a bug.

A worker reads paths on stdin and answers one JSON line per file, under an address-space limit
(``RLIMIT_AS``) and a wall timeout. A file must open (and one slice render) or be refused with a
``ScanError`` naming it; any other exception, a crash, a timeout or running out of the address space
is a bug. A worker that dies or hangs is replaced and the file counted as a crash or timeout.

    python tests/io/fuzz_runner.py --worker MEMORY_BYTES
"""

from __future__ import annotations

import json
import os
import select
import subprocess
import sys
import time
import traceback
from collections import Counter
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from fuzz_cases import Case

MEMORY_LIMIT = 3 << 30
TIMEOUT_S = 20.0
_START_TIMEOUT_S = 120.0  # importing the readers, on a loaded machine
OUTCOMES = ("opened", "refused")
# Levels smaller than this are read whole (every tile decoded); larger ones only their first tile.
_READ_WHOLE_PIXELS = 4096 * 4096


@dataclass
class Result:
    """What opening one case did: ``opened``, ``refused``, or the bug (an exception type name,
    ``crash``, ``timeout``, ``unnamed`` for a refusal that does not name the file)."""

    case: Case
    outcome: str
    detail: str = ""
    tile_errors: int = 0

    @property
    def is_bug(self) -> bool:
        return self.outcome not in OUTCOMES


@dataclass
class Summary:
    results: list[Result] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def bugs(self) -> list[Result]:
        return [result for result in self.results if result.is_bug]

    def counts(self) -> dict[str, int]:
        counts = Counter("bugs" if result.is_bug else result.outcome for result in self.results)
        return {
            "files": len(self.results),
            "opened": counts["opened"],
            "refused": counts["refused"],
            "bugs": counts["bugs"],
            "tile_errors": sum(result.tile_errors for result in self.results),
        }

    def bug_kinds(self) -> dict[str, int]:
        return dict(Counter(result.outcome for result in self.bugs).most_common())

    def report(self, limit: int = 20) -> str:
        """The counts, then one line per bug (at most ``limit``): what it was, which seed, which mutation."""
        lines = [json.dumps(self.counts())]
        for result in self.bugs[:limit]:
            lines.append(
                f"{result.outcome}: {result.case.seed} / {result.case.mutation} ({result.case.path}): "
                f"{result.detail}"
            )
        return "\n".join(lines)


def run_cases(
    cases: Iterable[Case],
    workers: int = 2,
    timeout_s: float = TIMEOUT_S,
    memory: int = MEMORY_LIMIT,
) -> Summary:
    """Open each case in ``workers`` sandboxed processes (each case in one of them)."""
    cases = list(cases)
    workers = max(1, min(workers, len(cases)))
    start = time.perf_counter()
    shares = [cases[index::workers] for index in range(workers)]

    def run_share(share: list[Case]) -> list[Result]:
        with _Worker(memory, timeout_s) as worker:
            return [worker.check(case) for case in share]

    with ThreadPoolExecutor(max_workers=workers) as pool:
        results = [result for share in pool.map(run_share, shares) for result in share]
    return Summary(results, time.perf_counter() - start)


class _Worker:
    """One sandboxed process, restarted after a crash or a timeout."""

    def __init__(self, memory: int, timeout_s: float) -> None:
        self.memory, self.timeout_s = memory, timeout_s
        self.process: subprocess.Popen | None = None

    def __enter__(self) -> _Worker:
        return self

    def __exit__(self, *exc) -> None:
        self._stop()

    def check(self, case: Case) -> Result:
        if self.process is None:
            self._start()
        self.process.stdin.write(f"{case.path}\n")
        self.process.stdin.flush()
        ready, _, _ = select.select([self.process.stdout], [], [], self.timeout_s)
        line = self.process.stdout.readline() if ready else ""
        if not line:
            status = self.process.wait() if ready else None
            self._stop()
            if not ready:
                return Result(case, "timeout", f"no answer within {self.timeout_s:g} s")
            return Result(case, "crash", f"the worker died (exit status {status})")
        answer = json.loads(line)
        return Result(case, answer["outcome"], answer.get("detail", ""), answer.get("tile_errors", 0))

    def _start(self) -> None:
        # Few malloc arenas and threads: the address-space limit must bound the data, not the
        # per-thread reservations of the libraries.
        env = dict(os.environ, MALLOC_ARENA_MAX="2", OMP_NUM_THREADS="1", RUST_BACKTRACE="0")
        self.process = subprocess.Popen(
            [sys.executable, str(Path(__file__).resolve()), "--worker", str(self.memory)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            text=True,
            env=env,
            cwd=Path(__file__).parent,
        )
        ready, _, _ = select.select([self.process.stdout], [], [], _START_TIMEOUT_S)
        if not ready or json.loads(self.process.stdout.readline() or "{}").get("ready") is not True:
            self._stop()
            raise RuntimeError("the fuzzing worker did not start")

    def _stop(self) -> None:
        if self.process is None:
            return
        self.process.kill()
        self.process.wait()
        self.process.stdin.close()
        self.process.stdout.close()
        self.process = None


def check_file(path: Path) -> dict:
    """Open ``path`` and render a slice (a slide: read its levels); the outcome as a JSON-able dict."""
    from medview.io import ScanError, open_scan

    case_folder = next((p.name for p in [path, *path.parents] if p.name.startswith("case")), path.name)
    try:
        scan = open_scan(path)
        tile_errors = _touch(scan)
    except ScanError as error:
        outcome = "refused" if case_folder in str(error) else "unnamed"
        return {"outcome": outcome, "detail": str(error)[:300]}
    except (Exception, MemoryError, RecursionError) as error:
        frames = traceback.extract_tb(error.__traceback__)[-6:]
        where = " <- ".join(f"{Path(frame.filename).name}:{frame.lineno}" for frame in reversed(frames))
        return {"outcome": type(error).__name__, "detail": f"{str(error)[:200]} at {where}"}
    return {"outcome": "opened", "tile_errors": tile_errors}


def _touch(scan) -> int:
    """What a viewer would do first: render the middle slice, or read a slide's levels."""
    from medview.render import render_slice

    if not scan.is_multiscale:
        render_slice(scan)
        return 0
    for level in scan.levels:
        pixels = int(np.prod(level.shape))
        np.asarray(level if pixels <= _READ_WHOLE_PIXELS else level.blocks[(0,) * level.ndim])
    errors = scan.metadata.get("tile_errors")
    return len(errors.errors()) if errors is not None else 0


def _serve(memory: int) -> None:
    import resource
    import warnings

    resource.setrlimit(resource.RLIMIT_AS, (memory, memory))
    warnings.simplefilter("ignore")
    answers = os.fdopen(os.dup(1), "w")
    os.dup2(os.open(os.devnull, os.O_WRONLY), 1)  # libraries that print must not break the protocol
    import medview.io  # noqa: F401  (the readers are imported before the first file's timeout starts)
    import medview.render  # noqa: F401

    answers.write(json.dumps({"ready": True}) + "\n")
    answers.flush()
    for line in sys.stdin:
        answers.write(json.dumps(check_file(Path(line.rstrip("\n")))) + "\n")
        answers.flush()


if __name__ == "__main__":
    if len(sys.argv) == 3 and sys.argv[1] == "--worker":
        _serve(int(sys.argv[2]))
    else:
        sys.exit(__doc__)
