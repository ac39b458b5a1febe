"""Intake admission throughput next to a bare FastAPI + asyncpg baseline, in one run.

Starts embedded Postgres and tansu, the real intake service as its own process
(LocalNetwork with only intake, on free ports) and bench/bare_admission.py
(same uvicorn settings, its own database). Both get the same closed-loop load
from one httpx.AsyncClient: ``--concurrency`` requests in flight, ``--requests``
per round, rounds interleaved A/B/A/B… so the machine's noise hits both alike.
Prints requests/s per round, the medians and the ratio intake / bare (target ≥ 60%).

The load generator shares the machine with the servers (and Postgres): the
absolute figures are this machine's, the ratio is the one to compare.

    python bench/intake_throughput.py                      # 3 × 2000 requests, 32 in flight
    python bench/intake_throughput.py --requests 300 --rounds 2
"""

from __future__ import annotations

import argparse
import asyncio
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx
from common import (
    a_network,
    admission_body,
    admission_headers,
    emit,
    median,
    out,
    paired_ratios,
    ratio,
    verdict,
)

TARGET_RATIO = 0.60
BENCH_DIR = Path(__file__).resolve().parent


async def drive(url: str, token: str | None, requests: int, concurrency: int) -> tuple[float, int]:
    """Closed loop: ``concurrency`` workers POST until ``requests`` are done.
    Returns (requests per second, how many did not answer 201)."""
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    failures = 0
    next_index = 0
    async with httpx.AsyncClient(base_url=url, limits=limits, timeout=30) as client:

        async def worker() -> None:
            nonlocal failures, next_index
            while next_index < requests:
                i = next_index
                next_index += 1
                headers = admission_headers(token) if token else {}
                response = await client.post("/persons", json=admission_body(i), headers=headers)
                if response.status_code != 201:
                    failures += 1
                    if failures == 1:
                        out(
                            f"  first failure at {url}: {response.status_code} "
                            f"{response.text[:300]}"
                        )

        start = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(concurrency)))
        elapsed = time.perf_counter() - start
    return requests / elapsed, failures


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


async def measure(intake_url: str, bare_url: str, token: str, args) -> dict:
    # Warm-up: connection pools, JIT-less Python caches, the relay's first publishes.
    await drive(intake_url, token, args.warmup, args.concurrency)
    await drive(bare_url, None, args.warmup, args.concurrency)
    intake_rates: list[float] = []
    bare_rates: list[float] = []
    failures = {"intake": 0, "bare": 0}
    for round_no in range(1, args.rounds + 1):
        rate, failed = await drive(intake_url, token, args.requests, args.concurrency)
        intake_rates.append(rate)
        failures["intake"] += failed
        rate, failed = await drive(bare_url, None, args.requests, args.concurrency)
        bare_rates.append(rate)
        failures["bare"] += failed
        out(
            f"  round {round_no}: intake {intake_rates[-1]:,.0f} req/s, "
            f"bare {bare_rates[-1]:,.0f} req/s, "
            f"ratio {ratio(intake_rates[-1], bare_rates[-1]):.0%}"
        )
    return {
        "intake_rps": intake_rates,
        "bare_rps": bare_rates,
        "failures": failures,
    }


def main(args) -> dict:
    with tempfile.TemporaryDirectory() as tmp:
        net = None
        bare = None
        try:
            out("starting postgres, tansu and intake …")
            net = a_network(Path(tmp), only=["intake"])
            bare, bare_url = start_bare(net.postgres, Path(tmp) / "logs" / "bare.log")
            intake_url = net.services["intake"].url
            token = net.token("gushi", ["station_staff"])
            out(
                f"load: {args.rounds} rounds × {args.requests} POST /persons per server, "
                f"{args.concurrency} in flight, A/B interleaved (warm-up {args.warmup} each)"
            )
            figures = asyncio.run(measure(intake_url, bare_url, token, args))
        finally:
            if bare is not None:
                bare.terminate()
                bare.wait(10)
            if net is not None:
                net.down()
    intake_median = median(figures["intake_rps"])
    bare_median = median(figures["bare_rps"])
    overall = ratio(intake_median, bare_median)
    paired = median(paired_ratios(figures["intake_rps"], figures["bare_rps"]))
    out(
        f"intake admission throughput: median {intake_median:,.0f} req/s; "
        f"bare FastAPI+asyncpg: median {bare_median:,.0f} req/s; "
        f"ratio {overall:.0%} (median of per-round ratios {paired:.0%}; target ≥ "
        f"{TARGET_RATIO:.0%}: {verdict(overall, TARGET_RATIO, at_most=False)})"
    )
    if any(figures["failures"].values()):
        out(f"non-201 answers: {figures['failures']}")
    results = {
        **figures,
        "intake_rps_median": intake_median,
        "bare_rps_median": bare_median,
        "ratio": overall,
        "paired_ratio_median": paired,
        "target_ratio": TARGET_RATIO,
    }
    emit(results)
    return results


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--requests", type=int, default=2000, help="per server per round")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--warmup", type=int, default=200)
    main(parser.parse_args())
