"""The short fault-injection run (issue 11): ~100 admissions on a network of its
own, one SIGKILL of search mid-stream, duplicate deliveries, identities delivered
before their admissions, and two poison records; every effect exactly once, and
dead letters = the poison."""

from __future__ import annotations

import pytest
from faults.harness import FaultRun
from support import a_network

pytestmark = pytest.mark.e2e


def test_a_short_fault_run_keeps_every_effect_exactly_once(tmp_path):
    net = a_network(tmp_path, SEARCH_PERIODIC_INTERVAL_SECONDS="0.3")
    run = None
    try:
        net.up()
        run = FaultRun(net)
        run.start_stream(count=100, workers=4)
        run.wait_admitted(15)
        run.kill_and_restart("search", down_for=1.0)
        run.wait_admitted(40)
        run.duplicate_admissions(10)
        run.deliver_out_of_order(5)
        run.send_poison(malformed=1, invalid=1)
        run.finish_stream()
        check = run.settle(timeout=60)
        run.replay_poison()
        assert not run.failed_admissions
        assert len(run.admissions) == 105  # 100 through intake, 5 out of order
        assert check.problems == [], run.report()
        assert all(" -> 409, dead letters unchanged: True" in r for r in check.replays), (
            run.report()
        )
    finally:
        if run is not None:
            run.cleanup()
            print(run.report())
        net.down()
