"""The on-call command against the running network: five processes, real
Postgres, the real broker. The CLI runs in-process (``main``) with a token
minted from the network's development secret."""

from __future__ import annotations

import asyncio
import json
import uuid

import pytest
from rescue_ops import SERVICES
from rescue_ops.cli import main
from support import poll, station_client

pytestmark = pytest.mark.e2e


@pytest.fixture
def ops(network, urls, capsys, monkeypatch):
    for name in ("TOKEN", "DEV_JWT_SECRET"):
        monkeypatch.delenv(f"RESCUE_OPS_{name}", raising=False)
    # "=": a random secret may begin with "-", which argparse would take for an option.
    options = [f"--dev-secret={network.jwt_secret}"]
    for name, url in urls.items():
        options += ["--url", f"{name}={url}"]

    def run(*argv: str) -> tuple[int, str]:
        capsys.readouterr()
        code = main([*argv, *options])
        out, err = capsys.readouterr()
        return code, out + err

    return run


def until_healthy(ops, *argv: str) -> tuple[int, str]:
    last = []

    def attempt():
        last[:] = ops(*argv)
        return tuple(last) if last[0] == 0 else None

    try:
        return poll(attempt)
    except AssertionError:
        raise AssertionError(f"rescue-ops {' '.join(argv)} never exited 0:\n{last[1]}") from None


def test_health_all_ready(ops):
    # the relay and consumers reconnect by themselves after other tests' broker outages
    code, out = until_healthy(ops, "health")
    assert f"OK: {len(SERVICES)} of {len(SERVICES)}" in out
    code, out = ops("health", "--json")
    data = json.loads(out)
    assert code == 0 and data["ok"] is True
    assert {s["service"] for s in data["services"]} == set(SERVICES)
    assert all(s["database"] == "up" and s["relay_connected"] for s in data["services"])


def test_outbox_shows_every_service(ops):
    code, out = until_healthy(ops, "outbox")
    table_lines = out.splitlines()[2 : 2 + len(SERVICES)]
    assert [line.split()[0] for line in table_lines] == list(SERVICES)
    code, out = ops("outbox", "--json")
    data = json.loads(out)
    assert [s["service"] for s in data["services"]] == list(SERVICES)
    assert all(isinstance(s["unpublished"], int) for s in data["services"])


def test_periodic_lists_followups_revisit_sweep(ops):
    code, out = ops("periodic")
    assert code == 0, out
    assert "revisit-deadlines" in out
    code, out = ops("periodic", "--json", "--service", "followup")
    [followup] = json.loads(out)["services"]
    job = next(j for j in followup["jobs"] if j["name"] == "revisit-deadlines")
    assert job["runs"] >= 1 and job["last_error"] is None


def test_lag_shows_each_consumer_per_partition(ops):
    def search_assigned():
        code, out = ops("lag", "--json")
        data = json.loads(out)
        search = next(s for s in data["services"] if s["service"] == "search")
        return (code, data) if code == 0 and search["partitions"] else None

    code, data = poll(search_assigned)
    assert [s["service"] for s in data["services"]] == list(SERVICES)
    for service in data["services"]:
        for p in service["partitions"]:
            assert set(p) == {"topic", "partition", "committed", "end", "lag", "assigned"}
            # end and committed are read one after the other: only lag is bounded
            assert isinstance(p["end"], int) and p["lag"] >= 0
    search = next(s for s in data["services"] if s["service"] == "search")
    assert {p["topic"] for p in search["partitions"]} >= {"rescue.intake.stays"}
    code, out = ops("lag")
    assert code == 0 and "rescue.intake.stays" in out
    code, out = ops("lag", "--partitions", "--service", "search")
    assert code == 0 and "rescue.intake.stays[0]" in out


def test_a_malformed_event_is_found_and_its_replay_refused(ops, network):
    from aiokafka import AIOKafkaProducer

    async def send_garbage():
        producer = AIOKafkaProducer(bootstrap_servers=network.broker.bootstrap_servers)
        await producer.start()
        try:
            return await producer.send_and_wait(
                "rescue.intake.stays",
                b"{oops",
                key=f"ops-cli-{uuid.uuid4()}".encode(),
                headers=[("ce_type", b"person_admitted")],
            )
        finally:
            await producer.stop()

    sent = asyncio.run(send_garbage())

    def ours():
        code, out = ops("dead-letters", "--json", "--service", "search")
        [search] = json.loads(out)["services"]
        found = [
            d
            for d in search["dead_letters"] or []
            if (d["topic"], d["partition"], d["offset"])
            == ("rescue.intake.stays", sent.partition, sent.offset)
        ]
        return (code, found[0]) if found else None

    code, letter = poll(ours)
    assert code == 1  # a dead letter waits: the on-call engineer has work
    assert letter["reason"] == "malformed_envelope" and letter["replayed_at"] is None
    code, out = ops("dead-letters", "--service", "search")
    assert code == 1 and "malformed_envelope" in out and "rescue-ops replay search" in out

    code, out = ops("replay", "search", str(letter["id"]))
    assert code != 0
    assert "HTTP 409 Replay failed" in out and "still fails" in out

    code, out = ops("replay", "search", str(letter["id"]), "--json")
    data = json.loads(out)
    assert code != 0 and data["status"] == 409
    assert data["problem"]["title"] == "Replay failed"


def test_a_dead_letter_is_shown_discarded_on_record_and_never_replayed(ops, network, urls):
    from aiokafka import AIOKafkaProducer

    key = f"ops-discard-{uuid.uuid4()}"

    async def send_garbage():
        producer = AIOKafkaProducer(bootstrap_servers=network.broker.bootstrap_servers)
        await producer.start()
        try:
            return await producer.send_and_wait(
                "rescue.intake.stays",
                b'{"oops": "not an event"}',
                key=key.encode(),
                headers=[("ce_type", b"person_admitted")],
            )
        finally:
            await producer.stop()

    sent = asyncio.run(send_garbage())

    def ours():
        _, out = ops("dead-letters", "--json", "--service", "search")
        [search] = json.loads(out)["services"]
        found = [
            d
            for d in search["dead_letters"] or []
            if (d["topic"], d["partition"], d["offset"])
            == ("rescue.intake.stays", sent.partition, sent.offset)
        ]
        return found[0] if found else None

    letter = poll(ours)
    code, out = ops("dead-letter", "search", str(letter["id"]))
    assert code == 0 and '{"oops": "not an event"}' in out and f"MESSAGE_KEY     {key}" in out

    code, out = ops("discard", "search", str(letter["id"]), "--reason", "garbage from a test")
    assert code == 0 and "discarded by rescue-ops" in out
    assert ours() is None  # no longer waiting
    _, out = ops("dead-letters", "--json", "--service", "search", "--include-discarded")
    [search] = json.loads(out)["services"]
    [kept] = [d for d in search["dead_letters"] if d["id"] == letter["id"]]
    assert kept["discard_reason"] == "garbage from a test" and kept["discarded_by"] == "rescue-ops"

    code, out = ops("replay", "search", str(letter["id"]))
    assert code == 1 and "discarded by rescue-ops" in out
    code, out = ops("replay", "search", "--all", "--failure", "malformed_envelope", "--json")
    assert letter["id"] not in [r["id"] for r in json.loads(out)["result"]["results"]]

    # Who read the record and who discarded it is on the audit trail.
    with station_client(network, "center", ("auditor",)) as auditor:
        entries = auditor.get(
            f"{urls['search']}/audit/entries",
            params={"subject": "rescue-ops", "record_id": str(letter["id"])},
        ).json()
    routes = {(e["method"], e["route"]) for e in entries}
    assert ("GET", "/ops/dead-letters/{dead_letter_id}") in routes
    assert ("POST", "/ops/dead-letters/{dead_letter_id}/discard") in routes
