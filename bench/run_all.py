"""Every benchmark in sequence, each in its own process, then one summary table.

Figures, never assertions: the exit code is 0 whatever the figures are (non-zero
only if a benchmark itself crashed). PASS/FAIL compares each figure with its
target from issue 11 on this machine, on this run.

    python bench/run_all.py            # defaults of each script
    python bench/run_all.py --quick    # small parameters (about two minutes)
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

from common import verdict

BENCH = Path(__file__).resolve().parent

QUICK = {
    "intake_throughput.py": ["--requests", "300", "--rounds", "2", "--warmup", "50"],
    "end_to_end.py": ["--rate", "50", "--seconds", "5", "--rounds", "1"],
    "service_memory.py": ["--seconds", "3", "--settle", "2"],
    "event_pipeline.py": ["--events", "300", "--rate", "50", "--backlog", "2000"],
}


def run(script: str, quick: bool, *extra: str) -> tuple[dict | None, list[str], int]:
    with tempfile.NamedTemporaryFile(suffix=".json", delete=False) as handle:
        results_file = Path(handle.name)
    try:
        env = {**os.environ, "BENCH_RESULTS": str(results_file)}
        command = [sys.executable, str(BENCH / script), *(QUICK[script] if quick else []), *extra]
        print(f"\n$ {' '.join(command[1:])}", flush=True)
        lines: list[str] = []
        with subprocess.Popen(
            command, env=env, stdout=subprocess.PIPE, text=True, cwd=BENCH.parent
        ) as process:
            assert process.stdout is not None
            for line in process.stdout:
                print(line, end="", flush=True)
                lines.append(line.rstrip("\n"))
        text = results_file.read_text() if results_file.exists() else ""
        return (json.loads(text) if text else None), lines, process.returncode
    finally:
        results_file.unlink(missing_ok=True)


def main(args) -> int:
    rows: list[tuple[str, str, str, str]] = []
    crashed = []

    results, _, code = run("intake_throughput.py", args.quick)
    if results:
        rows.append(
            (
                "intake / bare FastAPI+asyncpg throughput",
                f"{results['ratio']:.0%} ({results['intake_rps_median']:,.0f} vs "
                f"{results['bare_rps_median']:,.0f} req/s)",
                f"≥ {results['target_ratio']:.0%}",
                verdict(results["ratio"], results["target_ratio"], at_most=False),
            )
        )
    elif code:
        crashed.append("intake_throughput.py")

    # Twice: the five services on the two cores, then only the path's (intake and
    # followup), which shows what the path costs without the other three beside it.
    for services in ("all", "path"):
        results, _, code = run("end_to_end.py", args.quick, "--services", services)
        if results and "p99_ms" in results:
            cores = sum(results["cpu_seconds"].values()) / results["cpu_wall_seconds"]
            rows.append(
                (
                    f"admission → followup p99 at {results['rate']:g}/s ({services} services)",
                    f"{results['p99_ms']:.1f} ms (rounds: "
                    f"{' / '.join(f'{p:.1f}' for p in results['rounds_p99_ms'])}; median "
                    f"round's p50 {results['p50_ms']:.1f}, max {results['max_ms']:.1f}, "
                    f"{results['arrived']}/{results['admitted']} arrived, "
                    f"{cores:.2f} cores busy)",
                    f"≤ {results['target_p99_ms']:g} ms",
                    verdict(results["p99_ms"], results["target_p99_ms"], at_most=True),
                )
            )
        elif code or not results:
            crashed.append(f"end_to_end.py --services {services}")

    results, _, code = run("service_memory.py", args.quick)
    if results:
        for name, mb in results["idle_mb"].items():
            rows.append(
                (
                    f"{name} RSS idle (after load)",
                    f"{mb:.0f} MB ({results['after_load_mb'][name]:.0f} MB)",
                    f"≤ {results['target_mb']:g} MB",
                    verdict(mb, results["target_mb"], at_most=True),
                )
            )
    elif code:
        crashed.append("service_memory.py")

    results, _, code = run("event_pipeline.py", args.quick)
    if results:
        rate, target = results["relay_events_per_second"], results["relay_target"]
        runs = ", ".join(f"{r:,.0f}" for r in results["relay_runs"])
        rows.append(
            (
                "relay throughput (event_pipeline.py)",
                f"median {rate:,.0f} events/s (runs: {runs})",
                f"≥ {target:,}/s",
                verdict(rate, target, at_most=False),
            )
        )
    if code:
        crashed.append("event_pipeline.py")

    width = max(len(r[0]) for r in rows) if rows else 10
    value_width = max(len(r[1]) for r in rows) if rows else 10
    print("\nsummary (figures of this run on this machine; targets from issue 11)")
    print(f"{'figure':<{width}}  {'measured':<{value_width}}  {'target':<10}  result")
    for figure, value, target, word in rows:
        print(f"{figure:<{width}}  {value:<{value_width}}  {target:<10}  {word}")
    if crashed:
        print(f"crashed: {', '.join(crashed)}")
    return 1 if crashed else 0


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="small parameters")
    sys.exit(main(parser.parse_args()))
