"""Referrals on the real network: rules, the partner directory, consent, partner
feeds without what a partner must not see, answers closing the loop, overdue
once, signed webhooks (issue 7)."""

from __future__ import annotations

import asyncio
import json
import secrets
import time
import uuid
from datetime import UTC, datetime, timedelta
from typing import NamedTuple

import pytest
from journeys import events_for
from support import (
    WebhookReceiver,
    a_real_county,
    a_real_town,
    poll,
    produce_raw,
    query,
    station_client,
    wait_for_more_sweeps,
)

from referral.webhooks import SIGNATURE_HEADER, verify
from rescue_chassis.access import PARTNER_TYPES
from rescue_events.contracts import PartnerAnswerKind, PartnerAnswerV1
from rescue_events.contracts.referral import WomensFederationReferralV1
from rescue_events.envelope import Envelope
from rescue_events.registry import registry, schema_urn

pytestmark = pytest.mark.e2e

REFERRAL_EVENTS = "rescue.referral.events"


def new_county() -> str:
    """A real county, in a city of this test's own, so directory matches are its own."""
    return a_real_county()


def register_agency(network, urls, partner_type: str, jurisdiction: str, **extra) -> str:
    agency_id = f"{partner_type.replace('_', '-')}-{jurisdiction}-{secrets.token_hex(2)}"
    with station_client(network, "center", ["admin"]) as admin:
        put = admin.put(
            f"{urls['referral']}/partners/{agency_id}",
            json={
                "name": f"{jurisdiction} {partner_type}",
                "partner_type": partner_type,
                "jurisdiction_code": jurisdiction,
                "contacts": [{"name": "值班室", "phone": "0376-0000000"}],
                **extra,
            },
        )
        assert put.status_code == 200, put.text
    return agency_id


def admit(network, urls, station="gushi", **person) -> str:
    with station_client(network, station) as staff:
        admitted = staff.post(
            f"{urls['intake']}/persons", json={"arrival_route": "own_request", **person}
        )
        assert admitted.status_code == 201, admitted.text
        return admitted.json()["id"]


def referrals_of(network, urls, person_id: str, station="gushi", until=bool) -> list[dict]:
    """The person's referrals, once ``until`` holds for them."""
    with station_client(network, station) as staff:

        def current():
            found = staff.get(f"{urls['referral']}/referrals", params={"person_id": person_id})
            return found.json() if until(found.json()) else None

        return poll(current)


class Referred(NamedTuple):
    agency: str
    person_id: str
    referral: dict
    home: str


def a_minor_referred(network, urls, age: int, **agency) -> Referred:
    """A minor admitted with a registered home whose minor-protection agency is in
    the directory, and the referral once it is sent."""
    home = new_county()
    agency_id = register_agency(network, urls, "minor_protection", home, **agency)
    person_id = admit(
        network,
        urls,
        sex="female" if age % 2 else "male",
        estimated_age=age,
        categories=["minor"],
        registered_home_admin_code=home,
    )
    referral = referrals_of(network, urls, person_id, until=lambda rs: rs and rs[0]["sent_at"])[0]
    return Referred(agency_id, person_id, referral, home)


def partner_client(network, agency_id: str, partner_type: str | None = None):
    """The agency's system: its token names the agency and carries its type (the
    type is the first part of the agency ids these tests register)."""
    partner_type = partner_type or next(
        t for t in PARTNER_TYPES if agency_id.startswith(t.replace("_", "-"))
    )
    return station_client(network, agency_id, ["partner", partner_type])


def test_a_dv_admission_goes_to_the_federation_of_her_registered_home_with_only_what_it_needs(
    network, urls
):
    home = new_county()
    city_level = register_agency(network, urls, "womens_federation", home[:4])
    home_county = register_agency(network, urls, "womens_federation", home)
    person_id = admit(
        network,
        urls,
        sex="female",
        estimated_age=34,
        full_name="张某",
        categories=["domestic_violence_victim", "suspected_trafficking"],
        registered_home_admin_code=a_real_town(home),
        stated_places=["她说的村名"],
    )
    found = referrals_of(
        network,
        urls,
        person_id,
        until=lambda rs: (
            {r["partner_type"] for r in rs}
            >= {
                "womens_federation",
                "police",
            }
        ),
    )
    federation = next(r for r in found if r["partner_type"] == "womens_federation")
    assert federation["agency_id"] == home_county != city_level  # the most specific wins
    assert federation["mandatory"] and federation["consent_required"]
    assert federation["status"] == "awaiting_consent"  # an adult decides for herself

    url = f"{urls['referral']}/referrals/{federation['id']}/consent"
    with station_client(network, "gushi") as gushi:
        vague = gushi.post(url, json={"decision": "override"})
        assert vague.status_code == 422  # an override needs its reason
        given = gushi.post(url, json={"decision": "given"})
        assert given.status_code == 200, given.text
        assert given.json()["status"] == "sent"
        assert given.json()["acknowledge_by"] is not None

    feed = events_for(
        network,
        person_id,
        lambda found: found,
        topic=f"rescue.partner.agency.{home_county}",  # her federation's own topic
        field="person_id",
    )
    assert [kind for kind, _ in feed] == ["womens_federation_referral"]
    payload = feed[0][1]
    assert set(payload) == set(WomensFederationReferralV1.model_fields)
    assert payload["agency_id"] == home_county
    assert payload["contact_station_id"] == "gushi"  # the federation learns where she is
    assert payload["consent_recorded"] is True
    assert "她说的村名" not in json.dumps(payload, ensure_ascii=False)

    # police hear of the trafficking, but not where she is
    police = next(r for r in found if r["partner_type"] == "police")
    assert police["consent_required"] is False
    register_agency(network, urls, "police", "4115")  # where she was found
    # the police unit the referral went to: ours, or a county unit other tests registered
    sent_to = referrals_of(
        network,
        urls,
        person_id,
        until=lambda rs: any(r["partner_type"] == "police" and r["agency_id"] for r in rs),
    )
    police_agency = next(r["agency_id"] for r in sent_to if r["partner_type"] == "police")
    with partner_client(network, police_agency, "police") as officers:
        sent = poll(
            lambda: [
                r
                for r in officers.get(f"{urls['referral']}/partner/referrals").json()
                if r["feed"]["person_id"] == person_id
            ]
        )
    assert sent[0]["feed"]["contact_station_id"] == "center"
    assert "registered_home_admin_code" not in sent[0]["feed"]
    assert "domestic_violence_victim" not in json.dumps(sent[0])


def test_a_minor_goes_to_minor_protection_at_the_registered_home_without_consent(network, urls):
    agency, person_id, referral, home = a_minor_referred(network, urls, age=12)
    assert (referral["partner_type"], referral["reason"]) == ("minor_protection", "minor")
    assert (referral["agency_id"], referral["status"]) == (agency, "sent")
    assert referral["consent_required"] is False
    feed = events_for(
        network,
        person_id,
        lambda found: found,
        topic=f"rescue.partner.agency.{agency}",
        field="person_id",
    )
    assert feed[0][1]["registered_home_admin_code"] == home
    assert feed[0][1]["estimated_age"] == 12


def test_the_partners_answers_close_the_loop(network, urls):
    agency, person_id, referral, _ = a_minor_referred(network, urls, age=9)
    stranger = register_agency(network, urls, "minor_protection", new_county())
    answers = f"{urls['referral']}/partner/referrals/{referral['id']}/answers"

    with partner_client(network, stranger) as other, partner_client(network, agency) as partner:
        assert other.get(f"{urls['referral']}/partner/referrals").json() == []
        assert other.post(answers, json={"answer": "acknowledged"}).status_code == 404
        with station_client(network, "gushi") as staff:
            # station staff are not a partner
            assert staff.post(answers, json={"answer": "acknowledged"}).status_code == 403
        listed = partner.get(f"{urls['referral']}/partner/referrals").json()
        assert [r["feed"]["referral_id"] for r in listed] == [referral["id"]]
        assert partner.post(answers, json={"answer": "acknowledged"}).status_code == 200
        too_early = partner.post(answers, json={"answer": "completed", "note": "x"})
        assert too_early.status_code == 409
        assert partner.post(answers, json={"answer": "accepted"}).status_code == 200

    # the next answer arrives on the partners' inbound topic instead
    answer_event = PartnerAnswerV1(
        person_id=uuid.UUID(person_id),
        referral_id=uuid.UUID(referral["id"]),
        agency_id=agency,
        answer=PartnerAnswerKind.IN_PROGRESS,
        answered_at=datetime.now(UTC),
    )
    _publish_as_partner(network, answer_event)
    with station_client(network, "gushi") as gushi:
        url = f"{urls['referral']}/referrals/{referral['id']}"
        poll(lambda: gushi.get(url).json()["status"] == "in_progress")
    with partner_client(network, agency) as partner:
        done = partner.post(answers, json={"answer": "completed", "note": "已送返户籍地临时监护"})
        assert done.status_code == 200
    with station_client(network, "gushi") as gushi:
        closed = gushi.get(url).json()
    assert (closed["status"], closed["outcome"]) == ("completed", "已送返户籍地临时监护")

    steps = events_for(
        network, person_id, lambda found: len(found) >= 6, topic=REFERRAL_EVENTS, field="person_id"
    )
    assert [p.get("status") for _, p in steps] == [
        "created",
        "sent",
        "acknowledged",
        "accepted",
        "in_progress",
        "completed",
    ]
    assert steps[4][1]["changed_by"] == agency


def _publish_as_partner(network, event) -> None:
    event_type = registry.for_model(type(event))
    envelope = Envelope(
        type=event_type.name,
        source=f"/partners/{event.agency_id}",
        subject=str(event.person_id),
        dataschema=schema_urn(event_type.name, event_type.version),
    )
    asyncio.run(
        produce_raw(
            network.broker.bootstrap_servers,
            "rescue.partner.answers",
            value=event.model_dump_json().encode(),
            key=str(event.person_id).encode(),
            headers=[(k, v.encode()) for k, v in envelope.to_headers()],
        )
    )


def test_an_unacknowledged_referral_raises_one_overdue_event(network, urls):
    agency, person_id, referral, _ = a_minor_referred(network, urls, age=15)
    # A day passes without an acknowledgement.
    query(
        network,
        "referral",
        "update referrals set acknowledge_by = $2 where id = $1::uuid",
        referral["id"],
        datetime.now(UTC) - timedelta(hours=1),
    )
    with station_client(network, "gushi") as gushi:
        overdue = poll(
            lambda: [
                r
                for r in gushi.get(
                    f"{urls['referral']}/referrals", params={"overdue": "true"}
                ).json()
                if r["id"] == referral["id"]
            ]
        )
    assert overdue[0]["acknowledgement_overdue_at"] is not None
    wait_for_more_sweeps(network, urls["referral"], "referral-deadlines")

    found = events_for(
        network,
        person_id,
        lambda found: any(kind == "referral_overdue" for kind, _ in found),
        topic=REFERRAL_EVENTS,
        field="person_id",
    )
    late = [p for kind, p in found if kind == "referral_overdue"]
    assert len(late) == 1
    assert (late[0]["deadline"], late[0]["agency_id"]) == ("acknowledgement", agency)
    assert late[0]["escalated_to"].startswith("center")


def test_a_webhook_partner_receives_a_verifiable_signature_and_retries_are_made(network, urls):
    receiver = WebhookReceiver(fail_first=1)
    receiver.start()
    try:
        secret = secrets.token_hex(24)
        agency, person_id, _, _ = a_minor_referred(
            network, urls, age=13, webhook_url=receiver.url, webhook_secret=secret
        )
        poll(lambda: len(receiver.requests) >= 2, timeout=30)
    finally:
        receiver.stop()

    first, second = receiver.requests[:2]
    assert second[1] == first[1]  # the same event, retried after the 500
    headers, body = second
    assert headers["X-Rescue-Event-Type"] == "minor_protection_referral"
    assert verify(secret, headers[SIGNATURE_HEADER], body, now=int(time.time()))
    assert not verify(
        "another-secret-" + "x" * 20, headers[SIGNATURE_HEADER], body, now=int(time.time())
    )
    delivered = json.loads(body)
    assert (delivered["person_id"], delivered["agency_id"]) == (person_id, agency)
    rows = poll(
        lambda: query(
            network,
            "referral",
            "select webhook_status as status, webhook_attempts as attempts "
            "from partner_deliveries where agency_id = $1 and webhook_status = 'delivered'",
            agency,
        )
    )
    assert [(r["status"], r["attempts"]) for r in rows] == [("delivered", 2)]


def test_consent_refusals_exceptions_and_staff_referrals_are_on_record(network, urls):
    person_id = admit(
        network,
        urls,
        sex="female",
        estimated_age=41,
        categories=["domestic_violence_victim", "coerced_begging"],
    )
    found = referrals_of(network, urls, person_id, until=lambda rs: len(rs) == 2)
    federation = next(r for r in found if r["partner_type"] == "womens_federation")
    police = next(r for r in found if r["partner_type"] == "police")
    base = f"{urls['referral']}/referrals"

    with station_client(network, "gushi") as gushi, station_client(network, "xixian") as xixian:
        assert xixian.get(f"{base}/{federation['id']}").status_code == 404
        refusal = gushi.post(
            f"{base}/{federation['id']}/consent",
            json={"decision": "refused", "note": "暂不愿联系妇联，已告知求助渠道"},
        )
        assert refusal.status_code == 200
        assert refusal.json()["status"] == "revoked"
        assert refusal.json()["outcome"].startswith("the person refused")
        assert (
            gushi.post(f"{base}/{police['id']}/consent", json={"decision": "given"}).status_code
            == 409
        )  # police referrals do not wait for consent
        waived = gushi.post(
            f"{base}/{police['id']}/revocation", json={"reason": "经核实系家属陪同务工，非强迫乞讨"}
        )
        assert waived.status_code == 200
        assert waived.json()["outcome"].startswith("exception to a mandatory referral")
        again = gushi.post(f"{base}/{police['id']}/revocation", json={"reason": "x"})
        assert again.status_code == 409

        unknown = gushi.post(base, json={"person_id": person_id, "reason": "astrology"})
        assert unknown.status_code == 422
        assert unknown.json()["errors"][0]["field"] == "reason"
        job = gushi.post(base, json={"person_id": person_id, "reason": "job"})
        assert job.status_code == 201, job.text
        assert (job.json()["partner_type"], job.json()["mandatory"]) == (
            "social_organisation",
            False,
        )
        assert job.json()["status"] in ("created", "awaiting_consent")
        twice = gushi.post(base, json={"person_id": person_id, "reason": "job"})
        assert twice.status_code == 409
