"""The benchmarks' pure helpers for issue 30: the concurrency sweep's plateau, the
summary rows with their targets and PASS/FAIL words, the discarded deliveries, and
the load generator's reading of a response head. The figures themselves are
printed, never asserted."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import pytest

BENCH = Path(__file__).resolve().parents[2] / "bench"


def _load(name: str):
    spec = importlib.util.spec_from_file_location(name, BENCH / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module  # loadgen imports common by name, as the scripts do
    spec.loader.exec_module(module)
    return module


try:
    common = _load("common")
    loadgen = _load("loadgen")
finally:  # not left behind for other tests under such plain names
    sys.modules.pop("common", None)
    sys.modules.pop("loadgen", None)


def test_the_plateau_is_the_last_step_that_gained_at_least_five_percent():
    points = [(4, 400.0), (8, 800.0), (16, 1200.0), (32, 1250.0), (64, 1240.0)]
    assert common.sweep_best(points) == (16, 1200.0)


def test_a_step_that_falls_back_does_not_move_the_plateau():
    points = [(4, 400.0), (8, 900.0), (16, 500.0), (32, 920.0)]
    assert common.sweep_best(points)[0] == 8


def test_the_sweep_goes_on_while_the_throughput_rises():
    assert not common.sweep_finished([(4, 400.0), (8, 800.0)])
    assert not common.sweep_finished([(4, 400.0), (8, 800.0), (16, 810.0)])


def test_the_sweep_stops_after_two_steps_under_the_gain():
    assert common.sweep_finished([(4, 400.0), (8, 800.0), (16, 810.0), (32, 790.0)])
    assert common.sweep_finished([(4, 400.0), (8, 800.0), (16, 810.0)], patience=1)


def test_a_sweep_of_no_steps_has_no_plateau():
    with pytest.raises(ValueError):
        common.sweep_best([])
    assert not common.sweep_finished([])


async def test_the_sweep_reports_the_plateau_and_every_step_it_measured():
    rates = {4: 100.0, 8: 200.0, 16: 300.0, 32: 305.0, 64: 290.0, 128: 999.0}

    async def rate_at(level: int) -> float:
        return rates[level]

    plateau, points = await loadgen.sweep(rate_at, [4, 8, 16, 32, 64, 128])
    assert plateau == 16
    assert [level for level, _ in points] == [4, 8, 16, 32, 64]  # 128 never tried


def test_targets_read_as_the_issue_writes_them():
    assert common.target_text(50.0, at_most=True, unit="ms") == "≤ 50 ms"
    assert common.target_text(0.6, at_most=False, unit="%") == "≥ 60%"
    assert common.target_text(3.0, at_most=True, unit="×") == "≤ 3×"
    assert common.target_text(5000, at_most=False, unit="/s") == "≥ 5000/s"
    assert common.target_text(None, at_most=True) == "—"


def test_a_figure_that_misses_its_target_says_fail():
    row = common.figure_row("p99 at 150/s", "61.0 ms", 61.0, 50.0, at_most=True, unit="ms")
    assert row == ["p99 at 150/s", "61.0 ms", "≤ 50 ms", "FAIL"]
    row = common.figure_row("intake / bare", "64%", 0.64, 0.6, at_most=False, unit="%")
    assert row[2:] == ["≥ 60%", "PASS"]


def test_a_figure_that_could_not_be_measured_fails_and_one_without_target_has_no_word():
    assert common.figure_row("p99", "none arrived", None, 50.0, at_most=True)[3] == "FAIL"
    assert common.figure_row("records", "2.00", 2.0, None, at_most=True)[2:] == ["—", ""]


def test_the_summary_aligns_its_columns():
    lines = common.summary_lines([["a", "1 ms", "≤ 5 ms", "PASS"], ["longer figure", "2", "—", ""]])
    assert lines[0].split() == ["figure", "measured", "target", "result"]
    assert lines[1].index("1 ms") == lines[2].index("2") == lines[0].index("measured")


def test_discarded_is_what_was_delivered_and_neither_applied_nor_dead_lettered():
    assert common.discarded(delivered=9, applied=5, dead_lettered=0) == 4
    assert common.discarded(delivered=3, applied=2, dead_lettered=1) == 0
    assert common.discarded(delivered=0, applied=0, dead_lettered=0) == 0


def test_a_response_head_gives_status_length_and_whether_the_server_closes():
    head = b"HTTP/1.1 201 Created\r\ncontent-length: 42\r\ncontent-type: application/json\r\n\r\n"
    assert loadgen.parse_head(head) == (201, 42, False, False)
    head = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n"
    assert loadgen.parse_head(head) == (200, None, True, True)
    assert loadgen.parse_head(b"HTTP/1.0 204 No Content\r\n\r\n")[3] is True
    with pytest.raises(ValueError):
        loadgen.parse_head(b"SSH-2.0-OpenSSH\r\n\r\n")


def test_a_request_carries_its_body_length_and_headers():
    data = loadgen.request_bytes(
        "http://127.0.0.1:8101", "/persons", '{"a":"闻"}'.encode(), {"Idempotency-Key": "k-1"}
    )
    head, body = data.split(b"\r\n\r\n", 1)
    assert head.startswith(b"POST /persons HTTP/1.1\r\nHost: 127.0.0.1:8101\r\n")
    assert b"Content-Length: %d" % len(body) in head
    assert b"Idempotency-Key: k-1" in head
    assert body == '{"a":"闻"}'.encode()
