"""The statistics of the benchmarks (bench/common.py); the benchmarks' figures are
printed, never asserted."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

_spec = importlib.util.spec_from_file_location(
    "bench_common", Path(__file__).resolve().parents[2] / "bench" / "common.py"
)
bench = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(bench)


def test_a_comma_list_converts_each_item():
    assert bench.comma_list(float)("50,100,200") == [50.0, 100.0, 200.0]
    assert bench.comma_list(int)("7") == [7]
    assert bench.comma_list()("search,followup") == ["search", "followup"]
    with pytest.raises(ValueError):
        bench.comma_list(int)("50,x")


def test_percentile_interpolates_between_closest_ranks():
    values = [1.0, 2.0, 3.0, 4.0]
    assert bench.percentile(values, 0.0) == 1.0
    assert bench.percentile(values, 1.0) == 4.0
    assert bench.percentile(values, 0.5) == 2.5
    assert bench.percentile(values, 0.25) == pytest.approx(1.75)


def test_percentile_does_not_depend_on_order():
    assert bench.percentile([5.0, 1.0, 3.0], 0.5) == 3.0


def test_p99_of_a_hundred_values_sits_near_the_top():
    values = [float(i) for i in range(1, 101)]
    assert bench.percentile(values, 0.99) == pytest.approx(99.01)


def test_percentile_of_one_value_is_that_value():
    assert bench.percentile([7.0], 0.99) == 7.0


@pytest.mark.parametrize("q", [-0.1, 1.5])
def test_percentile_refuses_a_quantile_outside_zero_to_one(q):
    with pytest.raises(ValueError):
        bench.percentile([1.0], q)


def test_percentile_of_nothing_is_an_error():
    with pytest.raises(ValueError):
        bench.percentile([], 0.5)


def test_median_of_odd_and_even_counts():
    assert bench.median([3.0, 1.0, 2.0]) == 2.0
    assert bench.median([4.0, 1.0, 3.0, 2.0]) == 2.5


def test_ratio_and_its_non_positive_baseline():
    assert bench.ratio(60.0, 100.0) == pytest.approx(0.6)
    with pytest.raises(ValueError):
        bench.ratio(1.0, 0.0)


def test_paired_ratios_are_round_by_round():
    assert bench.paired_ratios([50.0, 90.0], [100.0, 100.0]) == [0.5, 0.9]
    with pytest.raises(ValueError):
        bench.paired_ratios([1.0], [1.0, 2.0])


def test_latency_summary():
    summary = bench.latency_summary([float(i) for i in range(1, 101)])
    assert summary["p50"] == pytest.approx(50.5)
    assert summary["max"] == 100.0


def test_verdict_at_most_and_at_least():
    assert bench.verdict(50.0, 50.0, at_most=True) == "PASS"
    assert bench.verdict(50.1, 50.0, at_most=True) == "FAIL"
    assert bench.verdict(0.6, 0.6, at_most=False) == "PASS"
    assert bench.verdict(0.59, 0.6, at_most=False) == "FAIL"


def test_parse_vmrss_kb():
    assert bench.parse_vmrss_kb("VmRSS:\t  123456 kB") == 123456
    with pytest.raises(ValueError):
        bench.parse_vmrss_kb("VmHWM:\t  1 kB")


def test_cpu_ticks_are_read_after_a_command_name_with_spaces_and_parentheses():
    # pid (comm) state ppid pgrp session tty tpgid flags minflt cminflt majflt cmajflt utime stime
    stat = "4242 (python (x) y) S 1 4242 4242 0 -1 4194304 100 0 0 0 250 75 0 0 20 0 3 0"
    assert bench.parse_stat_cpu_ticks(stat) == 325


def test_the_cpu_of_this_process_grows_while_it_works():
    import os

    before = bench.cpu_seconds(os.getpid())
    deadline = bench.time.process_time() + 0.05
    while bench.time.process_time() < deadline:
        pass
    assert bench.cpu_seconds(os.getpid()) > before
    assert bench.cpu_seconds(2**22 + 7) == 0.0  # no such process


def test_the_cpu_meter_counts_a_process_that_started_while_it_measured():
    """A Postgres backend opened during a run: all its CPU falls in the window."""
    import subprocess
    import sys

    children: list[int] = []
    meter = bench.CpuMeter(lambda: {"backends": list(children)})
    meter.start()
    busy = "import time\nend = time.process_time() + 0.2\nwhile time.process_time() < end: pass\n"
    child = subprocess.Popen([sys.executable, "-c", busy + "input()"], stdin=subprocess.PIPE)
    try:
        children.append(child.pid)
        deadline = bench.time.monotonic() + 30
        while bench.cpu_seconds(child.pid) < 0.2 and bench.time.monotonic() < deadline:
            bench.time.sleep(0.05)
        used, _ = meter.stop()
    finally:
        child.communicate(b"\n")
    assert used["backends"] >= 0.2
    assert "load generator" in used


def test_the_cpu_table_shows_each_process_per_admission_and_in_cores():
    lines = bench.cpu_table({"intake": 2.0, "followup": 0.5}, wall=10.0, admissions=1000)
    assert lines[1].split() == ["intake", "2.00", "0.20"]
    assert lines[2].split() == ["followup", "0.50", "0.05"]
    assert lines[3].split()[:3] == ["all", "2.50", "0.25"]


def test_time_slots_group_points_by_when_they_happened():
    points = [(0.1, 5.0), (0.4, 7.0), (0.6, 100.0), (1.7, 9.0)]
    assert bench.time_slots(points, 0.5) == [(0.0, [5.0, 7.0]), (0.5, [100.0]), (1.5, [9.0])]
