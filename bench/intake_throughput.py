"""Intake admission throughput and server CPU per request next to a bare FastAPI +
asyncpg baseline, with a load generator that does not cap the baseline (issue 30).

Starts embedded Postgres and tansu, the real intake service as its own process
(LocalNetwork with only intake, on free ports) and bench/bare_admission.py
(same uvicorn settings, its own database). The load is closed-loop from
bench/loadgen.py (raw asyncio HTTP/1.1, one keep-alive connection per request in
flight). First each server's concurrency is swept (4, 8, 16 … doubling) until
its throughput stops rising (two steps in a row under +5% over the best): the
bare endpoint's plateau shows the generator is not the cap, and intake is
measured at its own plateau. Then ``--rounds`` rounds back to back, intake then
bare, ``--seconds`` each at those concurrencies, reading each server process's
CPU time (/proc/<pid>/stat) before and after.

Targets: intake's throughput ≥ 60% of the bare endpoint's, and intake's server
CPU per request ≤ 3× the bare one's (medians of the rounds).

    python bench/intake_throughput.py                          # sweep, then 3 rounds × 5 s
    python bench/intake_throughput.py --seconds 2 --step-seconds 1 --rounds 1
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import json
import subprocess
import sys
import tempfile
import uuid
from pathlib import Path

from common import (
    CpuMeter,
    a_network,
    admission_body,
    children_of,
    comma_list,
    emit,
    figure_row,
    median,
    network_processes,
    out,
    ratio,
    summary_lines,
)
from loadgen import closed_loop, request_bytes, sweep

TARGET_RATIO = 0.60
TARGET_CPU_RATIO = 3.0
MIN_GAIN = 0.05
BENCH_DIR = Path(__file__).resolve().parent
BODIES = [json.dumps(admission_body(i), ensure_ascii=False).encode() for i in range(120)]


def admissions(url: str, token: str | None):
    """Request i: an admission body, and for intake its token and a new Idempotency-Key."""

    run = uuid.uuid4().hex[:12]
    keys = itertools.count()

    def make(i: int) -> bytes:
        headers = {}
        if token:  # a key never used before: every request is a new admission
            headers = {"Authorization": f"Bearer {token}", "Idempotency-Key": f"{run}-{next(keys)}"}
        return request_bytes(url, "/persons", BODIES[i % len(BODIES)], headers)

    return make


def start_bare(postgres, log_file: Path) -> tuple[subprocess.Popen, str]:
    from rescue_localnet.broker import free_port
    from rescue_localnet.services import ServiceProcess

    asyncio.run(postgres.create_databases(["bench_bare"]))
    port = free_port()
    log = open(log_file, "ab")  # noqa: SIM115 - lives as long as the process
    process = subprocess.Popen(
        [
            sys.executable,
            str(BENCH_DIR / "bare_admission.py"),
            "--dsn",
            postgres.dsn("bench_bare"),
            "--port",
            str(port),
        ],
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    # ServiceProcess.wait_ready polls /health/ready the same way as for the services.
    probe = ServiceProcess("bare", port, {}, log_file, process)
    probe.wait_ready()
    return process, probe.url


class Server:
    """One server under load: its URL, its requests, its process (and children)."""

    def __init__(self, name: str, url: str, token: str | None, pid: int, net) -> None:
        self.name, self.url, self.pid, self.net = name, url, pid, net
        self.make = admissions(url, token)
        self.plateau = 0
        self.idle_cores = 0.0
        self.rounds: list[dict] = []

    def groups(self) -> dict[str, list[int]]:
        return {
            "server": [self.pid, *children_of(self.pid)],
            "postgres": network_processes(self.net).get("postgres", []),
        }

    async def rate_at(self, concurrency: int, seconds: float) -> float:
        result = await closed_loop(self.url, self.make, concurrency, seconds)
        if result.failures:
            out(f"  {self.name}: {result.failures} failed ({result.first_failure})")
        return result.rps

    async def find_plateau(self, levels: list[int], seconds: float) -> list[tuple[int, float]]:
        def show(level: int, rps: float, best: float | None) -> None:
            gain = f" ({rps / best - 1:+.0%} on the best before)" if best else ""
            out(f"  {self.name:<6} {level:>4} in flight: {rps:>7,.0f} req/s{gain}")

        self.plateau, points = await sweep(
            lambda c: self.rate_at(c, seconds), levels, MIN_GAIN, show=show
        )
        out(f"  {self.name}: throughput stops rising at {self.plateau} in flight")
        return points

    async def idle(self, seconds: float) -> float:
        """Cores the server uses doing nothing (its relay, consumer and sweeps): a share
        of every request's CPU when few requests get through."""
        meter = CpuMeter(self.groups)
        meter.start()
        await asyncio.sleep(seconds)
        used, wall = meter.stop()
        self.idle_cores = used["server"] / wall
        return self.idle_cores

    async def measure(self, seconds: float) -> dict:
        meter = CpuMeter(self.groups)
        meter.start()
        result = await closed_loop(self.url, self.make, self.plateau, seconds)
        used, wall = meter.stop()
        answered = max(result.answered, 1)
        figures = {
            "rps": result.rps,
            "failures": result.failures,
            "server_ms_per_request": 1000 * used["server"] / answered,
            "postgres_ms_per_request": 1000 * used["postgres"] / answered,
            "generator_ms_per_request": 1000 * result.generator_cpu_seconds / answered,
            "server_cores": used["server"] / wall,
            "generator_cores": result.generator_cpu_seconds / result.seconds,
        }
        self.rounds.append(figures)
        return figures


def medians(rounds: list[dict]) -> dict:
    return {key: median([r[key] for r in rounds]) for key in rounds[0]}


async def measure(intake: Server, bare: Server, args) -> None:
    # Warm-up: connection pools, prepared statements, the relay's first publishes.
    for server in (intake, bare):
        await server.rate_at(8, args.step_seconds)
    out(f"concurrency sweep ({args.step_seconds:g} s a step, stop under +{MIN_GAIN:.0%} twice):")
    await bare.find_plateau(args.levels, args.step_seconds)
    await intake.find_plateau(args.levels, args.step_seconds)
    for server in (intake, bare):
        await server.idle(args.step_seconds)
    out(f"{args.rounds} rounds back to back, {args.seconds:g} s each, at each plateau:")
    for number in range(1, args.rounds + 1):
        a = await intake.measure(args.seconds)
        b = await bare.measure(args.seconds)
        out(
            f"  round {number}: intake {a['rps']:,.0f} req/s, {a['server_ms_per_request']:.2f} ms "
            f"CPU/request; bare {b['rps']:,.0f} req/s, {b['server_ms_per_request']:.2f} ms; "
            f"ratio {ratio(a['rps'], b['rps']):.0%}, CPU "
            f"×{a['server_ms_per_request'] / max(b['server_ms_per_request'], 1e-9):.1f}"
        )


def main(args) -> dict:
    with tempfile.TemporaryDirectory() as tmp:
        net = None
        bare_process = None
        try:
            out("starting postgres, tansu and intake …")
            net = a_network(Path(tmp), only=["intake"])
            bare_process, bare_url = start_bare(net.postgres, Path(tmp) / "logs" / "bare.log")
            intake_service = net.services["intake"]
            token = net.token("gushi", ["station_staff"])
            intake = Server("intake", intake_service.url, token, intake_service.process.pid, net)
            bare = Server("bare", bare_url, None, bare_process.pid, net)
            asyncio.run(measure(intake, bare, args))
        finally:
            if bare_process is not None:
                bare_process.terminate()
                bare_process.wait(10)
            if net is not None:
                net.down()
    a, b = medians(intake.rounds), medians(bare.rounds)
    share = ratio(a["rps"], b["rps"])
    cpu_times = ratio(a["server_ms_per_request"], b["server_ms_per_request"])
    rows = [
        figure_row(
            "intake / bare FastAPI+asyncpg throughput",
            f"{share:.0%} ({a['rps']:,.0f} vs {b['rps']:,.0f} req/s at {intake.plateau} / "
            f"{bare.plateau} in flight)",
            share,
            TARGET_RATIO,
            at_most=False,
            unit="%",
        ),
        figure_row(
            "intake / bare server CPU per request",
            f"×{cpu_times:.1f} ({a['server_ms_per_request']:.2f} vs "
            f"{b['server_ms_per_request']:.2f} ms; Postgres {a['postgres_ms_per_request']:.2f} vs "
            f"{b['postgres_ms_per_request']:.2f} ms)",
            cpu_times,
            TARGET_CPU_RATIO,
            at_most=True,
            unit="×",
        ),
    ]
    out(
        f"medians of {args.rounds} rounds; the generator used {a['generator_cores']:.2f} / "
        f"{b['generator_cores']:.2f} of a core ({a['generator_ms_per_request'] * 1000:.0f} / "
        f"{b['generator_ms_per_request'] * 1000:.0f} µs a request) against intake / bare; "
        f"idle, intake used {intake.idle_cores:.3f} of a core and bare {bare.idle_cores:.3f}; "
        f"under load {a['server_cores']:.2f} and {b['server_cores']:.2f}:"
    )
    for line in summary_lines(rows):
        out("  " + line)
    failures = sum(r["failures"] for r in intake.rounds + bare.rounds)
    if failures:
        out(f"failed requests in the rounds: {failures}")
    results = {
        "intake": {
            "plateau": intake.plateau,
            "idle_cores": intake.idle_cores,
            "rounds": intake.rounds,
            "median": a,
        },
        "bare": {
            "plateau": bare.plateau,
            "idle_cores": bare.idle_cores,
            "rounds": bare.rounds,
            "median": b,
        },
        "ratio": share,
        "cpu_ratio": cpu_times,
        "intake_rps_median": a["rps"],
        "bare_rps_median": b["rps"],
        "target_ratio": TARGET_RATIO,
        "target_cpu_ratio": TARGET_CPU_RATIO,
        "rows": rows,
    }
    emit(results)
    return results


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=5.0, help="each round, per server")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--step-seconds", type=float, default=2.0, help="each step of the sweep")
    parser.add_argument(
        "--levels",
        type=comma_list(int),
        default=[4, 8, 16, 32, 64, 128, 256],
        help="concurrencies the sweep tries, in order, until the plateau",
    )
    main(parser.parse_args())
