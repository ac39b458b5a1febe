"""Every benchmark in sequence, each in its own process, then one summary table.

Figures, never assertions: the exit code is 0 whatever the figures are, a figure
that misses its target prints FAIL (non-zero only if a benchmark itself crashed).
PASS/FAIL compares each figure with its target (issues 30, 11 and 5) on this
machine, on this run.

    python bench/run_all.py            # issue 30's, 11's and the search figures (~25 min)
    python bench/run_all.py --quick    # issue 30's and 11's, small parameters (~5 min)
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

from common import figure_row, summary_lines

BENCH = Path(__file__).resolve().parent

QUICK = {
    "intake_throughput.py": ["--seconds", "2", "--step-seconds", "1", "--rounds", "1"],
    "end_to_end.py": ["--rate", "150", "--seconds", "5", "--rounds", "1"],
    "service_memory.py": ["--seconds", "3", "--settle", "2"],
    "event_pipeline.py": ["--events", "300", "--rate", "50", "--backlog", "2000"],
}
# Issue 5's and 29's search figures, and issue 30's matching (when it is there):
# their PASS/FAIL lines go to the summary as they print them.
SEARCH = ("matching_scale.py", "place_search.py", "address_search.py", "name_search.py")
FACES = "face_search.py"


def run(script: str, quick: bool, *extra: str) -> tuple[dict | None, list[str], int]:
    with tempfile.NamedTemporaryFile(suffix=".json", delete=False) as handle:
        results_file = Path(handle.name)
    try:
        env = {**os.environ, "BENCH_RESULTS": str(results_file)}
        command = [
            sys.executable,
            str(BENCH / script),
            *(QUICK.get(script, []) if quick else []),
            *extra,
        ]
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


def verdict_lines(lines: list[str]) -> list[str]:
    """A script's own lines that carry a PASS or FAIL word, as printed."""
    return [line.strip() for line in lines if "PASS" in line or "FAIL" in line]


def main(args) -> int:
    rows: list[list[str]] = []
    crashed = []

    # Issue 30: scripts that hand their summary rows over as they are.
    for script in ("intake_throughput.py", "end_to_end.py"):
        results, _, code = run(script, args.quick)
        if results and results.get("rows"):
            rows += results["rows"]
        if code or not results:
            crashed.append(script)

    results, _, code = run("service_memory.py", args.quick)
    if results:
        for name, mb in results["idle_mb"].items():
            rows.append(
                figure_row(
                    f"{name} RSS idle (after load)",
                    f"{mb:.0f} MB ({results['after_load_mb'][name]:.0f} MB)",
                    mb,
                    results["target_mb"],
                    at_most=True,
                    unit="MB",
                )
            )
    elif code:
        crashed.append("service_memory.py")

    results, _, code = run("event_pipeline.py", args.quick)
    if results:
        rate, target = results["relay_events_per_second"], results["relay_target"]
        runs = ", ".join(f"{r:,.0f}" for r in results["relay_runs"])
        rows.append(
            figure_row(
                "relay throughput (event_pipeline.py)",
                f"median {rate:,.0f} events/s (runs: {runs})",
                rate,
                target,
                at_most=False,
                unit="/s",
            )
        )
    if code:
        crashed.append("event_pipeline.py")

    searched: list[tuple[str, list[str]]] = []
    if not args.quick:
        for script in (*SEARCH, *(() if args.no_faces else (FACES,))):
            if not (BENCH / script).exists():
                continue
            _, lines, code = run(script, False)
            searched.append((script, verdict_lines(lines)))
            if code:
                crashed.append(script)

    print("\nsummary (figures of this run on this machine; targets from issues 30 and 11)")
    for line in summary_lines(rows):
        print(line)
    for script, lines in searched:
        print(f"\n{script} (its own lines with their targets)")
        for line in lines or ["(no PASS/FAIL line)"]:
            print(f"  {line}")
    if args.quick:
        print("\n(search figures: make bench or make bench-search)")
    failed = sum(1 for r in rows if r[3] == "FAIL") + sum(
        1 for _, lines in searched for line in lines if "FAIL" in line
    )
    print(
        f"\n{failed} figure(s) miss their target" if failed else "\nevery figure meets its target"
    )
    if crashed:
        print(f"crashed: {', '.join(crashed)}")
    return 1 if crashed else 0


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="small parameters, no search")
    parser.add_argument(
        "--no-faces", action="store_true", help="without face_search.py (its index takes minutes)"
    )
    sys.exit(main(parser.parse_args()))
