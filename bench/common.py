"""Shared by the benchmarks: the statistics (unit-tested in tests/unit/test_bench_math.py),
the network on free ports, process memory and the admission body.

Pure helpers first; everything that starts processes is imported lazily so the
unit tests stay light.
"""

from __future__ import annotations

import json
import math
import os
import sys
import time
import uuid
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

# ---- statistics ----------------------------------------------------------------


def percentile(values: Sequence[float], q: float) -> float:
    """The q-quantile (0 ≤ q ≤ 1) by linear interpolation between closest ranks
    (numpy's default), so p50 of an even count is the median."""
    if not values:
        raise ValueError("percentile of no values")
    if not 0.0 <= q <= 1.0:
        raise ValueError(f"quantile {q} outside [0, 1]")
    ordered = sorted(values)
    position = q * (len(ordered) - 1)
    low = math.floor(position)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)


def median(values: Sequence[float]) -> float:
    return percentile(values, 0.5)


def ratio(part: float, whole: float) -> float:
    """part / whole; a zero or negative whole has no meaningful ratio."""
    if whole <= 0:
        raise ValueError("ratio against a non-positive baseline")
    return part / whole


def paired_ratios(measured: Sequence[float], baseline: Sequence[float]) -> list[float]:
    """Round-by-round ratios of interleaved A/B rounds (same noise, same moment)."""
    if len(measured) != len(baseline):
        raise ValueError("paired rounds differ in number")
    return [ratio(m, b) for m, b in zip(measured, baseline, strict=True)]


def latency_summary(ms: Sequence[float]) -> dict[str, float]:
    return {
        "p50": percentile(ms, 0.50),
        "p99": percentile(ms, 0.99),
        "max": max(ms),
    }


def time_slots(points: Sequence[tuple[float, float]], width: float) -> list[tuple[float, list]]:
    """(time, value) points grouped by slots of ``width`` seconds: [(slot start, values)]."""
    slots: dict[int, list[float]] = {}
    for at, value in points:
        slots.setdefault(math.floor(at / width), []).append(value)
    return [(index * width, slots[index]) for index in sorted(slots)]


def comma_list(kind: Callable[[str], Any] = str) -> Callable[[str], list]:
    """An argparse type for "50,100,200": each item converted by ``kind``."""
    return lambda text: [kind(item) for item in text.split(",")]


def verdict(value: float, target: float, *, at_most: bool) -> str:
    ok = value <= target if at_most else value >= target
    return "PASS" if ok else "FAIL"


def target_text(target: float | None, *, at_most: bool, unit: str = "") -> str:
    """ "≤ 50 ms", "≥ 60%" (a unit of "%" takes a fraction), "—" without a target."""
    if target is None:
        return "—"
    sign = "≤" if at_most else "≥"
    if unit == "%":
        return f"{sign} {target:.0%}"
    attached = unit in ("", "×") or unit.startswith("/")
    return f"{sign} {target:g}{unit if attached else ' ' + unit}"


def figure_row(
    figure: str,
    measured: str,
    value: float | None,
    target: float | None,
    *,
    at_most: bool,
    unit: str = "",
) -> list[str]:
    """[figure, measured, target, PASS/FAIL] for run_all.py's summary; no target, no word.
    A figure that could not be measured (``value`` None) misses its target."""
    if target is None:
        return [figure, measured, "—", ""]
    word = "FAIL" if value is None else verdict(value, target, at_most=at_most)
    return [figure, measured, target_text(target, at_most=at_most, unit=unit), word]


def summary_lines(rows: Sequence[Sequence[str]]) -> list[str]:
    """The rows as an aligned table: figure, measured, target, result."""
    header = ("figure", "measured", "target", "result")
    widths = [max(len(str(r[i])) for r in [header, *rows]) for i in range(3)]
    return [
        f"{r[0]:<{widths[0]}}  {r[1]:<{widths[1]}}  {r[2]:<{widths[2]}}  {r[3]}".rstrip()
        for r in [header, *rows]
    ]


# ---- the load generator's concurrency sweep (bench/loadgen.py) -------------------------


def sweep_best(points: Sequence[tuple[int, float]], min_gain: float = 0.05) -> tuple[int, float]:
    """The step of a concurrency sweep where the throughput last rose by at least
    ``min_gain`` over the best before it: (concurrency, requests/s). A later step
    that gains less is noise around the plateau, not a higher one."""
    if not points:
        raise ValueError("a sweep of no steps")
    best = points[0]
    for point in points[1:]:
        if point[1] >= best[1] * (1 + min_gain):
            best = point
    return best


def sweep_finished(
    points: Sequence[tuple[int, float]], min_gain: float = 0.05, patience: int = 2
) -> bool:
    """Whether the last ``patience`` steps all failed to beat the best by ``min_gain``."""
    if not points:
        return False
    best = sweep_best(points, min_gain)
    return len(points) - 1 - list(points).index(best) >= patience


# ---- deliveries and records, counted from outside (end_to_end.py) -----------------------


def discarded(delivered: int, applied: int, dead_lettered: int) -> int:
    """Deliveries a consumer neither applied nor dead-lettered: records of a type it
    has no handler for (or a redelivery its inbox skipped)."""
    return max(delivered - applied - dead_lettered, 0)


# ---- process memory ----------------------------------------------------------------


def rss_mb(pid: int) -> float:
    """Resident set size (VmRSS) of one process, in MB (2**20 bytes)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return parse_vmrss_kb(line) / 1024
    raise RuntimeError(f"no VmRSS for pid {pid}")


def parse_vmrss_kb(line: str) -> int:
    """'VmRSS:\t  123456 kB' → 123456."""
    name, value = line.split(":", 1)
    number, unit = value.split()
    if name != "VmRSS" or unit != "kB":
        raise ValueError(f"not a VmRSS line: {line!r}")
    return int(number)


# ---- process CPU ----------------------------------------------------------------------

CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


def parse_stat_cpu_ticks(stat: str) -> int:
    """utime + stime, in clock ticks, from a /proc/<pid>/stat line. The command name
    (field 2, in parentheses) may hold spaces, so fields count from its ')'."""
    fields = stat.rsplit(")", 1)[1].split()
    return int(fields[11]) + int(fields[12])  # fields 14 and 15 of proc(5)


def cpu_seconds(pid: int) -> float:
    """CPU time (user + system) a process has used so far; 0 if it is gone."""
    try:
        return parse_stat_cpu_ticks(Path(f"/proc/{pid}/stat").read_text()) / CLOCK_TICKS
    except (OSError, IndexError, ValueError):
        return 0.0


def children_of(parent: int) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            if int(stat.rsplit(")", 1)[1].split()[1]) == parent:
                found.append(int(entry.name))
    return found


def network_processes(net) -> dict[str, list[int]]:
    """The processes that share the machine during a benchmark, by name: each
    service, Postgres (its postmaster and every backend) and the broker."""
    groups = {
        name: [service.process.pid]
        for name, service in net.services.items()
        if service.process is not None
    }
    postmaster = next(Path(net.postgres.data_dir).rglob("postmaster.pid"), None)
    if postmaster is not None:
        pid = int(postmaster.read_text().split()[0])
        groups["postgres"] = [pid, *children_of(pid)]
    if net.broker.process is not None:
        groups["broker (tansu)"] = [net.broker.process.pid]
    return groups


class CpuMeter:
    """CPU used by each group of processes (and by this load generator) between
    start() and stop(): where a benchmark's cores went.

    ``groups`` is asked again at stop(): a process that started meanwhile (a
    Postgres backend for a new pooled connection) counts with all its CPU, since
    all of it was used in the window. A process gone by then is not counted."""

    def __init__(self, groups: Callable[[], dict[str, list[int]]]) -> None:
        self.groups = groups

    def _sample(self) -> dict[str, dict[int, float]]:
        return {
            name: {pid: cpu_seconds(pid) for pid in pids} for name, pids in self.groups().items()
        }

    def start(self) -> None:
        self._started = self._sample()
        self._own, self._wall = time.process_time(), time.perf_counter()

    def stop(self) -> tuple[dict[str, float], float]:
        """CPU seconds per group, and the wall-clock seconds measured."""
        ended, wall = self._sample(), time.perf_counter() - self._wall
        used = {
            name: sum(
                seconds - self._started.get(name, {}).get(pid, 0.0)
                for pid, seconds in pids.items()
                if seconds > 0.0
            )
            for name, pids in ended.items()
        }
        used["load generator"] = time.process_time() - self._own
        return used, wall


def cpu_table(used: dict[str, float], wall: float, admissions: int) -> list[str]:
    """Lines: each group's CPU per admission and its share of the machine's cores."""
    cores = os.cpu_count() or 1
    lines = [f"  {'process':<16} {'ms CPU/admission':>17} {'cores':>6}"]
    for name, seconds in sorted(used.items(), key=lambda kv: -kv[1]):
        lines.append(f"  {name:<16} {1000 * seconds / admissions:>17.2f} {seconds / wall:>6.2f}")
    total = sum(used.values())
    lines.append(
        f"  {'all':<16} {1000 * total / admissions:>17.2f} {total / wall:>6.2f}  (of {cores} cores)"
    )
    return lines


# ---- the workload ----------------------------------------------------------------

SEXES = ("male", "female")
DIALECTS = ("四川话", "河南话", "粤语", "东北话", "湖南话")


def admission_body(i: int) -> dict:
    """A realistic own-request admission, varied a little from one to the next."""
    return {
        "arrival_route": "own_request",
        "sex": SEXES[i % 2],
        "estimated_age": 20 + i % 60,
        "dialect": DIALECTS[i % len(DIALECTS)],
    }


def admission_headers(token: str) -> dict[str, str]:
    return {
        "Authorization": f"Bearer {token}",
        "Idempotency-Key": f"bench-{uuid.uuid4().hex}",
    }


# ---- the network on free ports (as tests/support.a_network) ---------------------------


def a_network(data_dir: Path, only: Sequence[str] | None = None, commit_timestamps: bool = False):
    """LocalNetwork on free ports; ``only`` limits which services are started.
    ``commit_timestamps``: Postgres keeps each transaction's commit time
    (``pg_xact_commit_timestamp(xmin)`` of a row is when it was committed)."""
    from rescue_localnet.network import LocalNetwork

    net = LocalNetwork.on_free_ports(data_dir)
    net.start_database()
    if commit_timestamps:
        track_commit_timestamps(net.postgres)
    net.broker.start()
    net.prepare_services()
    if only is not None:
        net.services = {name: net.services[name] for name in only}
    net.migrate()
    net.start_services()
    return net


def track_commit_timestamps(postgres) -> None:
    """track_commit_timestamp = on: a server setting, so a restart before the services
    start (the socket directory is the data folder's, the same after it)."""
    import asyncio

    import asyncpg

    async def turn_on() -> None:
        conn = await asyncpg.connect(postgres.dsn("postgres"))
        try:
            await conn.execute("ALTER SYSTEM SET track_commit_timestamp = on")
        finally:
            await conn.close()

    async def is_on() -> bool:
        conn = await asyncpg.connect(postgres.dsn("postgres"))
        try:
            return await conn.fetchval("SHOW track_commit_timestamp") == "on"
        finally:
            await conn.close()

    asyncio.run(turn_on())
    postgres.restart()
    if not asyncio.run(is_on()):
        raise RuntimeError("track_commit_timestamp is still off after the restart")


def service_rss(net) -> dict[str, float]:
    return {
        name: rss_mb(service.process.pid)
        for name, service in net.services.items()
        if service.process is not None
    }


# ---- results for bench/run_all.py --------------------------------------------------


def emit(results: dict) -> None:
    """Write the figures as JSON where BENCH_RESULTS points (run_all.py reads them)."""
    target = os.environ.get("BENCH_RESULTS")
    if target:
        Path(target).write_text(json.dumps(results, indent=2, ensure_ascii=False))


def out(line: str) -> None:
    print(line, flush=True)
    sys.stdout.flush()
