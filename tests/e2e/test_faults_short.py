"""The short fault-injection run (issues 11 and 23), through ``make run``'s own
supervisor (``python -m rescue_localnet up`` in a process of its own): while
admissions stream, every service is SIGKILLed in turn and the supervisor starts
it again alone; duplicates, identities before their admissions and poison
records arrive; the broker process is SIGKILLed and comes back empty (a new
cluster: the services send again what it had, their consumers join again);
Postgres is restarted with ``rescue-ops restart postgres``. Every effect exactly
once, dead letters = the poison, every outbox drained, no consumer lagging.

Then the broker is stopped for a few seconds (``rescue-ops stop broker``):
``/health/ready``, ``/metrics`` and ``rescue-ops health|outbox|lag`` say it is
away and count what waits; once it is started again, everything is delivered."""

from __future__ import annotations

import json

import httpx
import pytest
from faults.harness import FaultRun, SupervisedNetwork
from rescue_ops.cli import main as rescue_ops
from support import poll

from rescue_localnet.services import SERVICES

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def supervised(tmp_path_factory):
    network = SupervisedNetwork(
        tmp_path_factory.mktemp("supervised"), SEARCH_PERIODIC_INTERVAL_SECONDS="0.3"
    )
    try:
        network.up()
        yield network
    finally:
        network.down()


@pytest.fixture
def ops(supervised, capsys, monkeypatch):
    """rescue-ops in this process, against the supervised network."""
    for name in ("TOKEN", "DEV_JWT_SECRET", "LOCALNET_DIR"):
        monkeypatch.delenv(f"RESCUE_OPS_{name}", raising=False)
    options = [f"--dev-secret={supervised.net.jwt_secret}"]
    for name, service in supervised.net.services.items():
        options += ["--url", f"{name}={service.url}"]

    def run(*argv: str) -> tuple[int, str]:
        capsys.readouterr()
        code = rescue_ops([*argv, *options])
        out, err = capsys.readouterr()
        return code, out + err

    return run


def test_every_effect_exactly_once_through_make_runs_supervisor(supervised):
    run = FaultRun(supervised.net)
    run.supervised = supervised
    try:
        run.start_stream(workers=2, pause=0.25)
        run.wait_admitted(10)
        # Each waits until the supervisor has them ready again, then for the backlog.
        run.sigkill("intake")
        run.sigkill("search", "transfer")
        run.sigkill("referral", "followup", "summary")
        run.duplicate_admissions(10)
        run.deliver_out_of_order(5)
        run.send_poison(malformed=1, invalid=1)
        run.wait_poison_dead_lettered()  # before the broker goes (it comes back empty)
        run.wait_admitted(run.admitted_count() + 5)
        run.sigkill("broker")
        run.restart_postgres(deliver=True)
        run.wait_admitted(run.admitted_count() + 10)
        run.finish_stream(stop=True)
        check = run.settle(timeout=120)
        run.replay_poison()
        assert not run.failed_admissions, run.report()
        assert check.problems == [], run.report()
        assert set(check.lags) == set(SERVICES)
        assert all(" -> 409, dead letters unchanged: True" in r for r in check.replays), (
            run.report()
        )
        restarts = {n: t["restarts"] for n, t in supervised.state()["targets"].items()}
        assert all(restarts[name] >= 1 for name in (*SERVICES, "broker", "postgres")), restarts
    finally:
        run.cleanup()
        print(run.report())


def test_a_broker_outage_is_reported_with_its_backlog_and_then_delivered(supervised, ops, capsys):
    run = FaultRun(supervised.net)
    run.supervised = supervised
    intake = supervised.net.services["intake"].url
    seen: dict[str, object] = {}

    def during() -> str:
        with run._client("gushi", ["station_staff"]) as gushi:
            for index in range(5):  # admissions go on: their events wait in the outbox
                run.admit(gushi, index)

            def away_with_backlog():
                body = httpx.get(f"{intake}/health/ready", timeout=5).json()
                waiting = (body.get("outbox") or {}).get("unpublished") or 0
                return body if body["broker"] == "away" and waiting >= 5 else None

            seen["ready"] = poll(away_with_backlog, timeout=20)
            seen["metrics"] = httpx.get(f"{intake}/metrics", timeout=10).text
        seen["health"] = ops("health")
        seen["health_json"] = ops("health", "--json", "--service", "intake")
        seen["outbox"] = ops("outbox", "--service", "intake")
        seen["lag"] = ops("lag", "--service", "search")
        ready = seen["ready"]
        return f"ready said broker {ready['broker']}, {ready['outbox']['unpublished']} waiting"

    fault = run.broker_outage(seconds=4, during=during)
    with capsys.disabled():  # rescue-ops' output is captured (ops), the report is not
        print(run.report())

    ready = seen["ready"]
    assert ready["status"] == "ready" and ready["database"] == "up"  # requests go on
    assert ready["relay_connected"] is False and ready["consumer_connected"] is False
    assert ready["outbox"]["unpublished"] >= 5 and ready["outbox"]["oldest_age_seconds"] >= 0

    metrics = {
        line.split(" ")[0]: float(line.split(" ")[1])
        for line in str(seen["metrics"]).splitlines()
        if line.startswith(("rescue_broker_up", "rescue_outbox_backlog"))
    }
    assert metrics['rescue_broker_up{service="intake"}'] == 0
    assert metrics['rescue_outbox_backlog{service="intake"}'] >= 5

    code, out = seen["health"]
    assert code == 1
    assert "AWAY" in out and "intake: broker away" in out and "waiting" in out
    code, out = seen["health_json"]
    [intake_health] = json.loads(out)["services"]
    assert intake_health["broker"] == "away" and intake_health["outbox_unpublished"] >= 5
    code, out = seen["outbox"]
    assert code == 1 and "intake: broker away" in out
    code, out = seen["lag"]
    assert code == 1  # the consumer cannot say, and what was produced is not on the broker

    # Started again (empty): everything admitted meanwhile had all its effects.
    assert fault.delivered_after is not None
    poll(lambda: ops("health")[0] == 0, timeout=60)
    poll(lambda: ops("lag")[0] == 0, timeout=60)
    code, out = ops("outbox")
    assert code == 0, out
