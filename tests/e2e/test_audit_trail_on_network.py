"""The audit trail on the real network (issue 9): admitting and reading a person
leaves write and read entries naming who, from where, which record and fields,
and why; auditors query them and verify the chain; everyone else is refused.
No entry leaves as an event of its own (issue 30): the chain's head is anchored on
the audit topic, kept by the summary service, and verified against."""

from __future__ import annotations

import json
import secrets

import httpx
import pytest
from support import poll, station_client, topic_events

from rescue_events.envelope import Envelope

pytestmark = pytest.mark.e2e

AUDIT_TOPIC = "rescue.audit"
SERVICES = ("intake", "search", "transfer", "referral", "followup")


def client_as(network, station: str, roles: tuple[str, ...], subject: str) -> httpx.Client:
    token = network.token(station, list(roles), subject=subject)
    return httpx.Client(headers={"Authorization": f"Bearer {token}"}, timeout=10)


def test_admitting_and_reading_a_person_is_on_the_audit_trail(network, urls):
    worker = f"staff-{secrets.token_hex(3)}"
    name = f"老李{secrets.token_hex(3)}"
    with client_as(network, "gushi", ("station_staff",), worker) as staff:
        admitted = staff.post(
            f"{urls['intake']}/persons",
            json={
                "arrival_route": "own_request",
                "sex": "male",
                "estimated_age": 70,
                "stated_names": [name],
            },
            headers={"X-Purpose": "接收入站登记".encode()},
        )
        assert admitted.status_code == 201, admitted.text
        person_id = admitted.json()["id"]
        read = staff.get(
            f"{urls['intake']}/persons/{person_id}",
            headers={"X-Purpose": "家属来电核实身份".encode()},
        )
        assert read.status_code == 200, read.text

    with client_as(network, "center", ("auditor",), "auditor-zhao") as auditor:
        answer = auditor.get(
            f"{urls['intake']}/audit/entries", params={"record_id": person_id, "subject": worker}
        )
        assert answer.status_code == 200, answer.text
        write, reading = answer.json()

        assert (write["action"], write["method"], write["route"]) == ("write", "POST", "/persons")
        assert (write["subject"], write["station_id"]) == (worker, "gushi")
        assert write["record_ids"] == {"response_id": person_id}
        assert write["fields"] == ["arrival_route", "estimated_age", "sex", "stated_names"]
        assert (write["purpose"], write["status_code"]) == ("接收入站登记", 201)
        assert write["correlation_id"] == admitted.headers["X-Correlation-ID"]

        assert (reading["action"], reading["route"]) == ("read", "/persons/{person_id}")
        assert (reading["subject"], reading["station_id"]) == (worker, "gushi")
        assert reading["record_ids"] == {"person_id": person_id}
        assert reading["fields"] == sorted(read.json())
        assert (reading["purpose"], reading["status_code"]) == ("家属来电核实身份", 200)
        assert reading["prev_hash"] != write["prev_hash"]
        assert reading["position"] > write["position"]
        # names of fields only, never their values
        assert name not in json.dumps(answer.json(), ensure_ascii=False)

        by_worker = auditor.get(f"{urls['intake']}/audit/entries", params={"subject": worker})
        assert [e["position"] for e in by_worker.json()] == [write["position"], reading["position"]]

        verification = auditor.get(f"{urls['intake']}/audit/verification")
        assert verification.status_code == 200, verification.text
        assert verification.json()["ok"] is True
        assert verification.json()["last_position"] >= reading["position"]

        # The auditor's own look is on the trail too.
        own = poll(
            lambda: auditor.get(
                f"{urls['intake']}/audit/entries", params={"subject": "auditor-zhao"}
            ).json()
        )
        assert own[0]["record_ids"] == {"record_id": person_id}
        assert own[0]["route"] == "/audit/entries"

        # The head anchored on demand, kept by summary, and verified against (issue 30).
        anchored = auditor.post(f"{urls['intake']}/audit/anchors")
        assert anchored.status_code == 202, anchored.text
        anchor = anchored.json()
        assert anchor["position"] >= reading["position"]

        def kept():
            answer = auditor.get(f"{urls['summary']}/audit/anchors/intake", params={"limit": 100})
            assert answer.status_code == 200, answer.text
            return [a for a in answer.json() if a["position"] == anchor["position"]]

        (stored,) = poll(kept)
        assert (stored["hash"], stored["contradicted_by"]) == (anchor["hash"], None)
        checked = auditor.get(
            f"{urls['intake']}/audit/verification", params={"anchor": stored["anchor"]}
        )
        assert checked.status_code == 200, checked.text
        assert (checked.json()["ok"], checked.json()["anchors"]) == (True, 1)

    def gathered(records) -> bool:
        return any(json.loads(r.value).get("hash") == anchor["hash"] for r in records)

    records = topic_events(network, AUDIT_TOPIC, gathered)
    types = {Envelope.from_headers(r.headers).type for r in records}
    assert types == {"audit_chain_anchored"}  # no audit_recorded per entry
    ours = [r for r in records if json.loads(r.value)["hash"] == anchor["hash"]]
    assert all(r.key == b"intake" for r in ours)  # one chain's anchors, one partition


def test_only_auditors_and_admins_read_the_trail_of_every_service(network, urls):
    with (
        station_client(network, "gushi", ("station_staff",)) as staff,
        station_client(network, "center", ("center_coordinator", "ops")) as coordinator,
        station_client(network, "center", ("admin",)) as admin,
        station_client(network, "center", ("auditor",)) as auditor,
    ):
        for name in SERVICES:
            for path in ("/audit/entries", "/audit/verification"):
                assert staff.get(f"{urls[name]}{path}").status_code == 403, (name, path)
                assert coordinator.get(f"{urls[name]}{path}").status_code == 403, (name, path)
                assert admin.get(f"{urls[name]}{path}").status_code == 200, (name, path)
            verification = auditor.get(f"{urls[name]}/audit/verification")
            assert verification.status_code == 200, (name, verification.text)
            assert verification.json()["ok"] is True, (name, verification.json())
            assert verification.json()["service"] == name
