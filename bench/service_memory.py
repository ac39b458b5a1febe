"""Resident memory of each service process: idle after start-up, and idle again after load.

Starts the whole network (LocalNetwork on free ports), lets it settle, reads
VmRSS from /proc/<pid>/status of each service process (the pids of
LocalNetwork's ServiceProcess objects: the `python -m <service> serve`
processes themselves), then POSTs admissions at a steady rate so every service
consumes events, lets it settle again and reads once more. Target ≤ 150 MB idle.

    python bench/service_memory.py                   # settle 5 s, 100 admissions/s for 10 s
    python bench/service_memory.py --seconds 3 --settle 2
"""

from __future__ import annotations

import argparse
import asyncio
import tempfile
import time
from pathlib import Path

from common import a_network, emit, out, service_rss, verdict
from end_to_end import send_open_loop

TARGET_MB = 150.0


def main(args) -> dict:
    with tempfile.TemporaryDirectory() as tmp:
        net = None
        try:
            out("starting postgres, tansu and the five services …")
            net = a_network(Path(tmp))
            time.sleep(args.settle)
            idle = service_rss(net)
            count = int(args.rate * args.seconds)
            out(f"load: {count} admissions at {args.rate:g}/s, then {args.settle:g} s idle")
            token = net.token("gushi", ["station_staff"])
            asyncio.run(send_open_loop(net.services["intake"].url, token, args.rate, count))
            time.sleep(args.settle)
            after = service_rss(net)
        finally:
            if net is not None:
                net.down()
    out(f"{'service':<10} {'idle MB':>8} {'after load MB':>14}  target ≤ {TARGET_MB:g} MB idle")
    for name in idle:
        word = verdict(idle[name], TARGET_MB, at_most=True)
        out(f"{name:<10} {idle[name]:>8.1f} {after[name]:>14.1f}  {word}")
    out(f"{'total':<10} {sum(idle.values()):>8.1f} {sum(after.values()):>14.1f}")
    results = {"idle_mb": idle, "after_load_mb": after, "target_mb": TARGET_MB}
    emit(results)
    return results


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--settle", type=float, default=5.0, help="idle seconds before reading")
    parser.add_argument("--rate", type=float, default=100.0)
    parser.add_argument("--seconds", type=float, default=10.0)
    main(parser.parse_args())
