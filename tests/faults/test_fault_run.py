"""The long fault-injection run (issues 11 and 23), minutes long, every fault,
through ``make run``'s own supervisor.

Not part of the default test run: set RESCUE_FAULT_RUN=1 (``make faults``).
RESCUE_FAULT_RUN_SECONDS (default 120) is how long admissions keep flowing at
least; the faults all happen within it, then the checker waits for the network
to settle and compares what every service holds with what was admitted, and
every consumer's lag with zero. The report gives, for each fault, how long the
network took to deliver what waited.
"""

from __future__ import annotations

import os
import time

import pytest

from faults.harness import FaultRun, SupervisedNetwork

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
    supervised = SupervisedNetwork(tmp_path / "net", SEARCH_PERIODIC_INTERVAL_SECONDS="0.5")
    run = None
    try:
        net = supervised.up()
        run = FaultRun(net)
        run.supervised = supervised
        replica = run.start_replica("search")  # not the supervisor's: the harness kills it
        run.start_stream(workers=3, pause=0.1)

        def after(admitted: int, pause: float = 3.0) -> None:
            run.wait_admitted(run.admitted_count() + admitted, timeout=300)
            time.sleep(pause)

        after(20)
        for name in ("search", "transfer", "referral", "followup", "intake"):
            run.sigkill(name)  # the supervisor restarts it; then the backlog is delivered
            after(10)
        run.kill_and_restart(replica, down_for=2.0)
        after(10)
        run.duplicate_admissions(30)
        run.deliver_out_of_order(20)
        run.send_poison(malformed=2, invalid=2)
        run.wait_poison_dead_lettered()  # the broker is killed later on (back empty)
        after(20)
        run.restart_postgres(deliver=True)
        after(20)
        run.sigkill("broker")  # back empty: everything is sent again
        after(20)
        run.broker_outage(20)  # rescue-ops stop broker, 20 s, start broker
        after(20)
        run.pause_broker(10, deliver=True)  # hangs (SIGSTOP), memory intact
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
        supervised.down()
