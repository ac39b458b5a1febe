"""The long fault-injection run (issue 11), minutes long, every fault.

Not part of the default test run: set RESCUE_FAULT_RUN=1 (``make faults``).
RESCUE_FAULT_RUN_SECONDS (default 120) is how long admissions keep flowing at
least; the faults all happen within it, then the checker waits for the network
to settle and compares what every service holds with what was admitted.
"""

from __future__ import annotations

import os
import time

import pytest
from support import a_network

from faults.harness import FaultRun

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.skipif(
        os.environ.get("RESCUE_FAULT_RUN") != "1",
        reason="the long fault-injection run takes minutes: set RESCUE_FAULT_RUN=1 (make faults)",
    ),
]


@pytest.mark.timeout(1800)
def test_every_effect_happens_exactly_once_through_every_fault(tmp_path):
    minimum = float(os.environ.get("RESCUE_FAULT_RUN_SECONDS", "120"))
    net = a_network(tmp_path, SEARCH_PERIODIC_INTERVAL_SECONDS="0.5")
    run = None
    try:
        net.up()
        run = FaultRun(net)
        replica = run.start_replica("search")
        run.start_stream(workers=3, pause=0.1)

        def after(admitted: int, pause: float = 3.0) -> None:
            run.wait_admitted(run.admitted_count() + admitted, timeout=300)
            time.sleep(pause)

        after(20)
        for name in ("search", "transfer", "referral", "followup", "intake"):
            run.kill_and_restart(name, down_for=2.0)
            after(10)
        run.kill_and_restart(replica, down_for=2.0)
        after(10)
        run.duplicate_admissions(30)
        run.deliver_out_of_order(20)
        run.send_poison(malformed=2, invalid=2)
        after(20)
        run.restart_postgres()
        after(20)
        run.pause_broker(20)
        after(20)
        run.duplicate_admissions(60)
        run.send_poison(malformed=1, invalid=1)
        while run.elapsed() < minimum:
            time.sleep(1)
        run.finish_stream(stop=True)
        check = run.settle(timeout=240, quiet=5)
        run.replay_poison()
        assert not run.failed_admissions, run.report()
        assert check.problems == [], run.report()
        assert all(" -> 409, dead letters unchanged: True" in r for r in check.replays), (
            run.report()
        )
    finally:
        if run is not None:
            run.cleanup()
            print(run.report())
        net.down()
