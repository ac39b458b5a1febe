"""No write without its audit entry, even when the process dies (issue 32): while
staff admit and discharge persons at intake (the one-statement lane and the
session lane), intake is SIGKILLed mid-stream and started again. Every admission
and discharge the database holds has its entry in the chain, no entry names a
write that is not there, nothing is left staged, and the chain verifies.

Intake runs alone (with Postgres and the broker) on a network of its own: the
session's network keeps its intake, and nothing else writes meanwhile."""

from __future__ import annotations

import threading
import uuid

import httpx
import pytest
from support import a_network, poll, query, station_client

pytestmark = pytest.mark.e2e

WORKERS = 6


class Stream:
    """Staff admitting a person, then discharging every other one, until stopped."""

    def __init__(self, network, url: str) -> None:
        self.network, self.url = network, url
        self.answered = 0  # writes answered 2xx
        self.stop = threading.Event()
        self._lock = threading.Lock()
        self.threads = [threading.Thread(target=self._work, daemon=True) for _ in range(WORKERS)]

    def _work(self) -> None:
        with station_client(self.network) as staff:
            n = 0
            while not self.stop.is_set():
                n += 1
                try:
                    admitted = staff.post(
                        f"{self.url}/persons",
                        json={"arrival_route": "own_request", "sex": "male", "estimated_age": 60},
                    )
                    if admitted.status_code != 201:
                        continue
                    self._count()
                    if n % 2 == 0:
                        person = admitted.json()["id"]
                        left = staff.post(
                            f"{self.url}/persons/{person}/discharge", json={"reason": "left"}
                        )
                        if left.status_code == 200:
                            self._count()
                except httpx.HTTPError:  # intake is down: keep trying until told to stop
                    continue

    def _count(self) -> None:
        with self._lock:
            self.answered += 1

    def start(self) -> None:
        for thread in self.threads:
            thread.start()

    def finish(self) -> None:
        self.stop.set()
        for thread in self.threads:
            thread.join(timeout=60)


@pytest.fixture(scope="module")
def network(tmp_path_factory):
    """Postgres, the broker and intake, as `make run` starts them (the two roles)."""
    net = a_network(tmp_path_factory.mktemp("sigkill"))
    try:
        net.start_infrastructure()
        net.prepare_services()
        intake = net.services["intake"]
        intake.migrate()
        intake.start()
        intake.wait_ready()
        yield net
    finally:
        if "intake" in net.services:
            net.services["intake"].stop()
        net.broker.stop()
        net.postgres.stop()


def persons(network) -> dict[uuid.UUID, str]:
    rows = query(network, "intake", "SELECT id, status FROM persons")
    return {row["id"]: row["status"] for row in rows}


def write_entries(network, after: int) -> list:
    return query(
        network,
        "intake",
        "SELECT route, record_ids->>'response_id' AS admitted, "
        "record_ids->>'person_id' AS discharged FROM audit_entries "
        "WHERE id > $1 AND action = 'write' AND status_code < 300",
        after,
    )


def test_a_sigkill_mid_stream_leaves_no_write_without_its_entry(network):
    intake = network.services["intake"]
    known = set(persons(network))
    last_entry = query(network, "intake", "SELECT coalesce(max(id), 0) AS n FROM audit_entries")
    after = last_entry[0]["n"]

    stream = Stream(network, intake.url)
    stream.start()
    try:
        poll(lambda: stream.answered >= 60, timeout=120)
        intake.kill()  # SIGKILL with writes in flight: no shutdown, no drain
        killed_at = stream.answered
        intake.start()
        intake.wait_ready()
        poll(lambda: stream.answered >= killed_at + 20, timeout=120)  # and on after it
    finally:
        stream.finish()
        if intake.process is None:
            intake.start()
            intake.wait_ready()

    # What a killed process staged is chained at the next start (and by any sweep).
    poll(lambda: not query(network, "intake", "SELECT id FROM audit_pending"), timeout=60)
    written = {pid: status for pid, status in persons(network).items() if pid not in known}
    discharged = {str(pid) for pid, status in written.items() if status == "discharged"}
    entries = write_entries(network, after)
    admissions = {e["admitted"] for e in entries if e["route"] == "/persons"}
    discharges = {
        e["discharged"] for e in entries if e["route"] == "/persons/{person_id}/discharge"
    }

    assert len(written) >= 60 and discharged
    assert admissions == {str(pid) for pid in written}  # each admission, and no other
    assert discharges == discharged
    with station_client(network, "center", roles=("auditor",)) as auditor:
        verification = auditor.get(f"{intake.url}/audit/verification")
    assert verification.status_code == 200, verification.text
    assert verification.json()["ok"] is True, verification.json()
