"""The benchmarks' line format: every line names its reference (or why there is none) and both sides'
threads, and every ratio reads the same way (above 1 is medview better)."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import pytest

BENCHMARKS = Path(__file__).resolve().parents[2] / "benchmarks"


@pytest.fixture(scope="module")
def measurement():
    spec = importlib.util.spec_from_file_location("measurement", BENCHMARKS / "measurement.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_a_line_is_one_json_object_with_its_reference_threads_and_ratio(measurement, capsys):
    measurement.emit(
        "demo",
        "seconds to do it",
        unit="s",
        medview=1.0,
        reference="the other tool",
        reference_value=3.0,
        threads={"medview": 2, "reference": 2},
        cores=2,
        ratio=3.0,
        ratio_definition="reference_s / medview_s (speedup)",
        shape=[4, 4],
    )
    (line,) = capsys.readouterr().out.splitlines()
    printed = json.loads(line)
    assert printed["reference"] == "the other tool"
    assert printed["threads"] == {"medview": 2, "reference": 2}
    assert printed["ratio"] == 3.0 and printed["higher_is_better"] is True
    assert printed["shape"] == [4, 4]


def test_a_line_without_a_reference_must_say_why(measurement):
    common = {"unit": "s", "medview": 1.0, "threads": {"medview": 1, "reference": None}}
    with pytest.raises(ValueError, match="must say why"):
        measurement.emit("demo", "t", reference=None, ratio=2.0, ratio_definition="target / s", **common)


def test_threads_of_both_sides_are_required(measurement):
    with pytest.raises(ValueError, match="threads"):
        measurement.emit(
            "demo",
            "t",
            unit="s",
            medview=1.0,
            reference="x",
            threads={"medview": 1},
            ratio=1.0,
            ratio_definition="reference_s / medview_s",
        )


def test_no_ratio_may_read_lower_is_better(measurement):
    with pytest.raises(ValueError, match="higher is better"):
        measurement.emit(
            "demo",
            "t",
            unit="s",
            medview=1.0,
            reference="x",
            threads={"medview": 1, "reference": 1},
            ratio=0.5,
            ratio_definition="medview_s / reference_s",
            higher_is_better=False,
        )


def test_core_counts_take_all_and_refuse_more_than_there_are(measurement):
    total = len(measurement.available_cores())
    assert measurement.core_counts("1,all") == list(dict.fromkeys([1, total]))
    with pytest.raises(SystemExit):
        measurement.core_counts(str(total + 1))


def test_a_pinned_worker_runs_on_the_cores_it_was_given(measurement):
    script = (
        'import json, os; print(json.dumps([len(os.sched_getaffinity(0)), os.environ["OMP_NUM_THREADS"]]))'
    )
    assert measurement.run_pinned(["-c", script], 1) == [1, "1"]
