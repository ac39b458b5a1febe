"""Per-agency delivery on the real network (issue 28): every message to a partner
reaches its agency alone, on its own Kafka topic, by its signed webhook and on its
pull feed; the agency acknowledges it; ops see where each stands; the police pull
their identity check with a short-lived link to the person's photo."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import json
import secrets
import time
import uuid
from datetime import UTC, datetime
from urllib.parse import parse_qs, urlparse

import httpx
import pytest
from aiokafka import AIOKafkaConsumer
from aiokafka.structs import TopicPartition
from prometheus_client.parser import text_string_to_metric_families
from support import (
    WebhookReceiver,
    a_real_county,
    poll,
    query,
    shared_testdata,
    station_client,
    topic_events,
)

pytestmark = pytest.mark.e2e

FACES = shared_testdata() / "faces"


def agency_topic(agency_id: str) -> str:
    return f"rescue.partner.agency.{agency_id}"


def client_as(network, agency_id: str, partner_type: str, subject: str = "duty-desk"):
    token = network.token(agency_id, ["partner", partner_type], subject=subject)
    return httpx.Client(headers={"Authorization": f"Bearer {token}"}, timeout=10)


def register(network, urls, partner_type: str, jurisdiction: str, **extra) -> str:
    agency_id = f"{partner_type.replace('_', '-')}-{jurisdiction}-{secrets.token_hex(3)}"
    with station_client(network, "center", ["admin"]) as admin:
        put = admin.put(
            f"{urls['referral']}/partners/{agency_id}",
            json={
                "name": f"{jurisdiction} {partner_type}",
                "partner_type": partner_type,
                "jurisdiction_code": jurisdiction,
                **extra,
            },
        )
        assert put.status_code == 200, put.text
    return agency_id


def victim_referred(network, urls, home: str) -> tuple[str, dict]:
    """A woman admitted as a domestic-violence victim from ``home``, her consent given:
    (person id, the referral once sent)."""
    with station_client(network, "gushi") as staff:
        admitted = staff.post(
            f"{urls['intake']}/persons",
            json={
                "arrival_route": "own_request",
                "sex": "female",
                "estimated_age": 31,
                "categories": ["domestic_violence_victim"],
                "registered_home_admin_code": home,
            },
        )
        assert admitted.status_code == 201, admitted.text
        person_id = admitted.json()["id"]
        waiting = poll(
            lambda: [
                r
                for r in staff.get(
                    f"{urls['referral']}/referrals", params={"person_id": person_id}
                ).json()
                if r["status"] == "awaiting_consent"
            ]
        )[0]
        given = staff.post(
            f"{urls['referral']}/referrals/{waiting['id']}/consent", json={"decision": "given"}
        )
        assert given.status_code == 200, given.text
        assert given.json()["status"] == "sent"
        return person_id, given.json()


def signed_by(secret: str, header: str, body: bytes) -> bool:
    """The partner's own check of X-Rescue-Signature (t=<unix>,v1=HMAC-SHA256 hex of
    "<t>.<body>"), written here from the documented scheme, not the service's code."""
    parts = dict(item.split("=", 1) for item in header.split(","))
    expected = hmac.new(secret.encode(), f"{parts['t']}.".encode() + body, hashlib.sha256)
    fresh = abs(time.time() - int(parts["t"])) <= 300
    return fresh and hmac.compare_digest(expected.hexdigest(), parts["v1"])


def whole_topic(network, topic: str) -> list[tuple[str, dict]]:
    """(ce_type, payload) of every record on ``topic`` up to its end now, as a partner's
    consumer reads it (no group: from the beginning)."""

    async def read():
        consumer = AIOKafkaConsumer(
            bootstrap_servers=network.broker.bootstrap_servers, enable_auto_commit=False
        )
        await consumer.start()
        try:
            while not consumer.partitions_for_topic(topic):  # created with the service
                await consumer._client.force_metadata_update()
            partitions = [TopicPartition(topic, p) for p in consumer.partitions_for_topic(topic)]
            consumer.assign(partitions)
            await consumer.seek_to_beginning()
            ends = await consumer.end_offsets(partitions)
            records = []
            while [tp for tp, end in ends.items() if await consumer.position(tp) < end]:
                for batch in (await consumer.getmany(timeout_ms=200)).values():
                    records.extend(batch)
            return [(dict(r.headers)["ce_type"].decode(), json.loads(r.value)) for r in records]
        finally:
            await consumer.stop()

    return asyncio.run(read())


def test_two_federations_each_receive_only_their_own_referral_on_kafka_webhook_and_pull(
    network, urls
):
    receivers = {name: WebhookReceiver() for name in ("east", "west")}
    for receiver in receivers.values():
        receiver.start()
    try:
        homes = {name: a_real_county() for name in receivers}
        secrets_of = {name: secrets.token_hex(24) for name in receivers}
        agencies = {
            name: register(
                network,
                urls,
                "womens_federation",
                homes[name],
                webhook_url=receivers[name].url,
                webhook_secret=secrets_of[name],
            )
            for name in receivers
        }
        persons = {name: victim_referred(network, urls, homes[name])[0] for name in receivers}
        posted = {
            name: poll(lambda r=r: list(r.requests), timeout=30) for name, r in receivers.items()
        }
    finally:
        for receiver in receivers.values():
            receiver.stop()

    feeds = {}
    for name, other in (("east", "west"), ("west", "east")):
        # the webhook: signed with the agency's own secret, its referral only
        ((headers, body),) = posted[name]
        assert signed_by(secrets_of[name], headers["X-Rescue-Signature"], body)
        assert not signed_by(secrets_of[other], headers["X-Rescue-Signature"], body)
        message = json.loads(body)
        assert (message["agency_id"], message["person_id"]) == (agencies[name], persons[name])
        assert (headers["X-Rescue-Feed"], headers["X-Rescue-Event-Type"]) == (
            "referral",
            "womens_federation_referral",
        )

        # the pull feed: the same delivery, and nothing of the other federation's
        with client_as(network, agencies[name], "womens_federation") as federation:
            page = federation.get(f"{urls['referral']}/partner/feed")
            assert page.status_code == 200, page.text
            (item,) = page.json()["items"]
            assert item["delivery_id"] == headers["X-Rescue-Delivery-Id"]
            assert (item["feed"], item["person_id"]) == ("referral", persons[name])
            assert item["body"] == message
            assert page.json()["next"] == item["cursor"]
            after = federation.get(
                f"{urls['referral']}/partner/feed", params={"since": item["cursor"]}
            ).json()
            assert after == {"items": [], "next": item["cursor"]}
        feeds[name] = item

        # its own Kafka topic: its referral, and never the other's person
        found = topic_events(
            network,
            agency_topic(agencies[name]),
            lambda records, p=persons[name]: any(p.encode() in r.value for r in records),
        )
        payloads = [json.loads(r.value) for r in found]
        assert {p["agency_id"] for p in payloads} == {agencies[name]}
        assert persons[other] not in {p["person_id"] for p in payloads}
        assert {dict(r.headers)["ce_type"] for r in found} == {b"womens_federation_referral"}

    # the type's topic, which every federation could read, carries neither any more
    shared = whole_topic(network, "rescue.partner.womens_federation")
    assert not {p.get("person_id") for _, p in shared} & set(persons.values())

    # a later referral to east is what east reads from its cursor on
    later_person, _ = victim_referred(network, urls, homes["east"])
    with client_as(network, agencies["east"], "womens_federation") as east:
        since = {"since": feeds["east"]["cursor"]}
        (later,) = poll(
            lambda: east.get(f"{urls['referral']}/partner/feed", params=since).json()["items"]
        )
        assert later["person_id"] == later_person and later["cursor"] > feeds["east"]["cursor"]

    # each acknowledges its own delivery; the other's is none of its business
    ack = f"{urls['referral']}/partner/feed/{{}}/acknowledgement"
    with (
        client_as(network, agencies["east"], "womens_federation") as east,
        client_as(network, agencies["west"], "womens_federation") as west,
        station_client(network, "gushi") as staff,
    ):
        east_id, west_id = feeds["east"]["delivery_id"], feeds["west"]["delivery_id"]
        assert west.post(ack.format(east_id)).status_code == 404
        assert staff.post(ack.format(east_id)).status_code == 403  # staff are no partner
        assert staff.get(f"{urls['referral']}/partner/feed").status_code == 403
        first = east.post(ack.format(east_id))
        assert first.status_code == 200, first.text
        again = east.post(ack.format(east_id))
        assert again.json()["acknowledged_at"] == first.json()["acknowledged_at"] is not None
        still = west.get(f"{urls['referral']}/partner/feed").json()["items"]
        assert [(i["delivery_id"], i["acknowledged_at"]) for i in still] == [(west_id, None)]

    # ops see where each delivery stands, never what it says
    with station_client(network, "center", ["ops"]) as ops:
        listed = ops.get(f"{urls['referral']}/deliveries", params={"agency_id": agencies["east"]})
        assert listed.status_code == 200, listed.text
        rows = {d["id"]: d for d in listed.json()}
        assert set(rows) >= {east_id, later["delivery_id"]}
        assert rows[east_id]["webhook_status"] == "delivered"
        assert rows[east_id]["acknowledged_by"] == f"{agencies['east']}:duty-desk"
        assert "body" not in rows[east_id]
        acknowledged = ops.get(
            f"{urls['referral']}/deliveries",
            params={"agency_id": agencies["east"], "status": "acknowledged"},
        ).json()
        assert [d["id"] for d in acknowledged] == [east_id]
    with station_client(network, "gushi") as staff:
        assert staff.get(f"{urls['referral']}/deliveries").status_code == 403
    # east's later webhook has no receiver any more: pending, on the ops' figures
    pending = {
        sample.labels["agency"]: sample.value
        for family in text_string_to_metric_families(
            httpx.get(f"{urls['referral']}/metrics", timeout=10).text
        )
        for sample in family.samples
        if sample.name == "rescue_partner_deliveries_pending"
    }
    assert pending[agencies["east"]] >= 1 and agencies["west"] not in pending

    # each federation's view is on the audit trail with the person it showed
    token = network.token("center", ["auditor"], subject="auditor-qian")
    with httpx.Client(headers={"Authorization": f"Bearer {token}"}, timeout=10) as auditor:
        entries = auditor.get(
            f"{urls['referral']}/audit/entries", params={"record_id": persons["west"]}
        ).json()
    views = [e for e in entries if e["route"] == "/partner/feed"]
    assert views and {e["station_id"] for e in views} == {agencies["west"]}


def test_the_police_pull_their_identity_check_with_a_photo_link_and_fetch_the_photo(network, urls):
    # counties of this test's own: no other test's referral is routed to these agencies
    asked = register(network, urls, "police", a_real_county())
    other = register(network, urls, "police", a_real_county())
    face = (FACES / "test" / "obama1.jpg").read_bytes()
    with station_client(network, "gushi") as staff:
        admitted = staff.post(
            f"{urls['intake']}/persons",
            json={"arrival_route": "own_request", "sex": "male", "estimated_age": 55},
        )
        assert admitted.status_code == 201, admitted.text
        person_id = admitted.json()["id"]
        case = poll(
            lambda: staff.get(f"{urls['search']}/cases", params={"person_id": person_id}).json()
        )[0]
        photo = staff.post(
            f"{urls['intake']}/persons/{person_id}/photos",
            json={
                "kind": "face",
                "image": base64.b64encode(face).decode(),
                "taken_at": datetime.now(UTC).isoformat(),
            },
        )
        assert photo.status_code == 201, photo.text
        photo_id = photo.json()["id"]
        poll(
            lambda: query(
                network,
                "search",
                "select 1 from shared_photos where photo_id = $1::uuid and status = 'enrolled'",
                photo_id,
            )
        )
        check = staff.post(
            f"{urls['search']}/cases/{case['id']}/police-checks",
            json={
                "sex": "male",
                "estimated_age": 55,
                "agency_id": asked,
                "face_photo_id": photo_id,
            },
            headers={"Idempotency-Key": str(uuid.uuid4())},
        )
        assert check.status_code == 201, check.text
        request_id = check.json()["id"]

    with (
        client_as(network, asked, "police") as police,
        client_as(network, other, "police") as stranger,
    ):
        feed = f"{urls['referral']}/partner/feed"
        (item,) = poll(lambda: police.get(feed, params={"feed": "police_check"}).json()["items"])
        pulled_at = time.time()
        assert item["body"]["request_id"] == request_id
        assert item["body"]["face_photo_id"] == photo_id
        link = item["body"]["face_photo_link"]
        query_of = {k: v[0] for k, v in parse_qs(urlparse(link).query).items()}
        assert query_of["agency"] == asked
        assert 0 < int(query_of["expires"]) - pulled_at <= 15 * 60  # short-lived
        assert stranger.get(feed).json()["items"] == []  # another police agency: nothing

        # the link opens the photo for the agency it was made for, and no other
        fetched = police.get(link)
        assert fetched.status_code == 200, fetched.text
        assert fetched.headers["content-type"].startswith("image/")
        assert stranger.get(link).status_code in (403, 404, 422)

        # a fresh link each pull: the link is never stored
        again = police.get(feed, params={"feed": "police_check"}).json()["items"][0]
        assert again["delivery_id"] == item["delivery_id"]
    stored = query(
        network,
        "referral",
        "select body from partner_deliveries where id = $1::uuid",
        item["delivery_id"],
    )
    assert "face_photo_link" not in stored[0]["body"] and "signature" not in stored[0]["body"]

    # and on the police agency's own topic, for a system that consumes Kafka
    found = topic_events(
        network,
        agency_topic(asked),
        lambda records: any(request_id.encode() in r.value for r in records),
    )
    assert {dict(r.headers)["ce_type"] for r in found} == {b"police_identity_check_requested"}
