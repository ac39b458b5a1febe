"""Referral's one outbound delivery mechanism on an in-memory unit of work: deliver
(once per agency and source event, on the agency's own topic, webhook queued),
the pull feed and its acknowledgement (the caller's agency only, a police check
with a fresh photo link), the overdue sweep, and the outbox/relay's explicit topics."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime, timedelta
from types import SimpleNamespace
from urllib.parse import parse_qs, urlparse

import pytest
from pydantic import SecretStr
from sqlalchemy import MetaData

from referral.deliveries import bodies, police, store
from referral.deliveries import sweeps as delivery_sweeps
from referral.deliveries.feed import (
    AcknowledgeDelivery,
    ReadFeed,
    acknowledge_delivery,
    read_feed,
)
from referral.deliveries.outbound import Feed, agency_topic, deliver
from referral.tables import Agency, PartnerDelivery
from rescue_chassis import photo_links
from rescue_chassis.auth import Principal
from rescue_chassis.refusals import Forbidden, NotFound
from rescue_chassis.testing import FakeUnitOfWork
from rescue_events import relay as relay_module
from rescue_events.contracts import Sex
from rescue_events.contracts.deliveries import (
    PartnerDeliveryAcknowledgedV1,
    PartnerDeliveryOverdueV1,
)
from rescue_events.contracts.referral import WomensFederationReferralV1
from rescue_events.contracts.search_police import (
    PoliceDnaSampleSubmittedV1,
    PoliceIdentityCheckRequestedV1,
)
from rescue_events.envelope import Envelope
from rescue_events.outbox import Outbox
from rescue_events.registry import Topic
from rescue_events.tables import define_plumbing_tables

NOW = datetime(2026, 12, 7, 9, 0, tzinfo=UTC)
KEY = "k" * 48
SETTINGS = SimpleNamespace(
    photo_link_key=SecretStr(KEY),
    photo_link_base_url="https://intake.rescue.example.cn",
    photo_link_ttl_seconds=900,
)


def agency(kind: str = "womens_federation", webhook: str | None = None) -> Agency:
    return Agency(
        id=f"{kind.replace('_', '-')}-{uuid.uuid4().hex[:6]}",
        name="机构",
        partner_type=kind,
        jurisdiction_code="4115",
        contacts=[],
        webhook_url=webhook,
        webhook_secret="s" * 32 if webhook else None,
        active=True,
        created_at=NOW,
    )


def partner(to: Agency) -> Principal:
    return Principal(subject="p1", station_id=to.id, roles=frozenset({"partner", to.partner_type}))


def referral_for(to: Agency) -> WomensFederationReferralV1:
    return WomensFederationReferralV1(
        person_id=uuid.uuid4(),
        referral_id=uuid.uuid4(),
        agency_id=to.id,
        reason="domestic_violence_victim",
        mandatory=True,
        sent_at=NOW,
        acknowledge_by=NOW + timedelta(hours=24),
        contact_station_id="gushi",
        sex=Sex.FEMALE,
        consent_recorded=True,
    )


def check_for(to: Agency, photo_id: uuid.UUID | None) -> PoliceIdentityCheckRequestedV1:
    return PoliceIdentityCheckRequestedV1(
        person_id=uuid.uuid4(),
        request_id=uuid.uuid4(),
        case_id=uuid.uuid4(),
        station_id="gushi",
        agency_id=to.id,
        sex=Sex.MALE,
        face_photo_id=photo_id,
        requested_at=NOW,
    )


@pytest.fixture(autouse=True)
def published(monkeypatch) -> list[tuple[str, object]]:
    """(topic, event) of every publication on an agency's topic; and the deliveries'
    SQL as the fake's rows, filtered as the statements filter."""
    on: list[tuple[str, object]] = []

    async def publish_on(uow, event, topic):
        on.append((topic, event))
        await uow.publish(event)

    async def feed_page(uow, agency_id, since, limit, feed):
        rows = [
            d
            for d in uow.all(PartnerDelivery)
            if d.agency_id == agency_id and d.cursor > since and feed in (None, d.feed)
        ]
        return sorted(rows, key=lambda d: d.cursor)[:limit]

    async def overdue(uow, now, limit):
        return [
            d
            for d in uow.all(PartnerDelivery)
            if d.acknowledge_by is not None
            and d.acknowledge_by < now
            and d.acknowledged_at is None
            and d.overdue_flagged_at is None
        ][:limit]

    monkeypatch.setattr(store, "publish_on", publish_on)
    monkeypatch.setattr(store, "feed_page", feed_page)
    monkeypatch.setattr(store, "overdue", overdue)
    return on


def envelope(kind: str) -> Envelope:
    return Envelope(type=kind, source="/rescue-network/search", subject="s", dataschema="d")


def numbered(uow: FakeUnitOfWork) -> None:
    """The cursors the database's sequence gives, in insertion order."""
    for n, delivery in enumerate(uow.all(PartnerDelivery), start=1):
        delivery.cursor = delivery.cursor or n


# ---- deliver -------------------------------------------------------------------------------


async def test_a_delivery_goes_on_the_agencys_own_topic_with_its_webhook_queued(published):
    to = agency(webhook="https://fed.example.cn/hook")
    event = referral_for(to)
    uow = FakeUnitOfWork(rows=[to], now=NOW)

    delivery = await deliver(
        uow,
        agency_id=to.id,
        feed="referral",
        event=event,
        subject_id=event.person_id,
        source_event_id=event.referral_id,
        acknowledge_within=timedelta(hours=2),
    )

    assert published == [(f"rescue.partner.agency.{to.id}", event)]
    assert (delivery.feed, delivery.event_type) == ("referral", "womens_federation_referral")
    assert json.loads(delivery.body) == event.model_dump(mode="json")
    assert (delivery.webhook_status, delivery.webhook_next_attempt_at) == ("pending", NOW)
    assert delivery.acknowledge_by == NOW + timedelta(hours=2)
    assert uow.all(PartnerDelivery) == [delivery]


async def test_the_same_source_event_twice_delivers_once_and_other_agencies_apart(published):
    one, other = agency(), agency()  # no webhooks: topic and pull only
    event = referral_for(one)
    source = uuid.uuid4()
    uow = FakeUnitOfWork(rows=[one, other], now=NOW)

    def again(to: Agency):
        return deliver(
            uow,
            agency_id=to.id,
            feed=Feed.REFERRAL,
            event=event,
            subject_id=event.person_id,
            source_event_id=source,
        )

    first = await again(one)
    assert await again(one) is first
    second = await again(other)

    assert [topic for topic, _ in published] == [agency_topic(one.id), agency_topic(other.id)]
    assert first.webhook_status is None and first.acknowledge_by is None
    assert {d.agency_id for d in uow.all(PartnerDelivery)} == {one.id, other.id}
    assert second is not first


async def test_police_requests_go_to_the_agency_asked_and_one_naming_none_nowhere(published):
    asked = agency("police")
    check = check_for(asked, uuid.uuid4())
    sample = PoliceDnaSampleSubmittedV1(
        person_id=check.person_id,
        sample_id=uuid.uuid4(),
        case_id=check.case_id,
        station_id="gushi",
        agency_id=asked.id,
        sample_ref="DNA-1",
        taken_at=NOW,
        taken_by="w1",
        submitted_at=NOW,
    )
    uow = FakeUnitOfWork(rows=[asked], now=NOW)
    envelopes = [
        envelope("police_identity_check_requested"),
        envelope("police_dna_sample_submitted"),
    ]

    await police.deliver_request(uow, check, envelopes[0], Feed.POLICE_CHECK)
    await police.deliver_request(uow, sample, envelopes[1], Feed.DNA_SAMPLE)
    await police.deliver_request(uow, check, envelopes[0], Feed.POLICE_CHECK)  # redelivered
    unaddressed = check.model_copy(update={"agency_id": None})
    await police.deliver_request(uow, unaddressed, envelope("y"), Feed.POLICE_CHECK)

    rows = sorted(uow.all(PartnerDelivery), key=lambda d: d.feed)
    assert [(d.feed, d.agency_id, d.subject_id) for d in rows] == [
        ("dna_sample", asked.id, check.person_id),
        ("police_check", asked.id, check.person_id),
    ]
    assert {d.source_event_id for d in rows} == {uuid.UUID(e.id) for e in envelopes}
    assert [topic for topic, _ in published] == [agency_topic(asked.id)] * 2


# ---- the pull feed -------------------------------------------------------------------------


async def test_the_feed_shows_the_callers_agency_only_after_its_cursor():
    mine, theirs = agency(), agency()
    uow = FakeUnitOfWork(actor=partner(mine), rows=[mine, theirs], now=NOW, settings=SETTINGS)
    for to in (mine, theirs, mine, mine):
        event = referral_for(to)
        await deliver(
            uow,
            agency_id=to.id,
            feed="referral",
            event=event,
            subject_id=event.person_id,
            source_event_id=event.referral_id,
        )
    numbered(uow)

    first = await read_feed(ReadFeed(since=0, limit=2), uow)
    rest = await read_feed(ReadFeed(since=first.next, limit=2), uow)
    after = await read_feed(ReadFeed(since=rest.next), uow)

    assert [i.cursor for i in first.items] == [1, 3] and first.next == 3
    assert [i.cursor for i in rest.items] == [4] and rest.next == 4
    assert after.items == [] and after.next == 4  # nothing new: ask from the same cursor
    assert {i.body["agency_id"] for i in first.items + rest.items} == {mine.id}
    assert (await read_feed(ReadFeed(feed=Feed.POLICE_CHECK), uow)).items == []


async def test_a_police_check_is_pulled_with_a_fresh_link_that_is_never_stored():
    asked = agency("police")
    photo_id = uuid.uuid4()
    uow = FakeUnitOfWork(actor=partner(asked), rows=[asked], now=NOW, settings=SETTINGS)
    check = check_for(asked, photo_id)
    delivery = await deliver(
        uow,
        agency_id=asked.id,
        feed=Feed.POLICE_CHECK,
        event=check,
        subject_id=check.person_id,
        source_event_id=uuid.uuid4(),
    )
    numbered(uow)

    (item,) = (await read_feed(ReadFeed(), uow)).items

    link = urlparse(item.body["face_photo_link"])
    query = {k: v[0] for k, v in parse_qs(link.query).items()}
    assert link.path == f"/partner/photos/{photo_id}" and query["agency"] == asked.id
    expires = int(query["expires"])
    assert expires == int((NOW + timedelta(minutes=15)).timestamp())
    assert item.body["face_photo_link_expires_at"] == (NOW + timedelta(minutes=15)).isoformat()
    assert query["request_id"] == str(check.request_id)  # the check it was made for

    def refusal(at: datetime):
        signature, request = query["signature"], check.request_id
        key = KEY.encode()
        return photo_links.check(
            key, photo_id, asked.id, expires, signature, at, request_id=request
        )

    assert refusal(NOW) is None
    assert refusal(NOW + timedelta(minutes=16)).field == "expires"
    assert "face_photo_link" not in delivery.body  # minted per pull, never kept
    later = await read_feed(ReadFeed(), FakeUnitOfWork(**_same(uow, NOW + timedelta(hours=1))))
    assert later.items[0].body["face_photo_link"] != item.body["face_photo_link"]


def _same(uow: FakeUnitOfWork, now: datetime) -> dict:
    return dict(actor=uow.actor, rows=list(uow.rows.values()), now=now, settings=uow.settings)


async def test_the_webhook_posts_the_stored_bytes_or_the_check_with_its_link():
    asked, federation = agency("police"), agency()
    uow = FakeUnitOfWork(rows=[asked, federation], now=NOW)
    check, referral = check_for(asked, uuid.uuid4()), referral_for(federation)
    with_photo = await deliver(
        uow,
        agency_id=asked.id,
        feed=Feed.POLICE_CHECK,
        event=check,
        subject_id=check.person_id,
        source_event_id=uuid.uuid4(),
    )
    plain = await deliver(
        uow,
        agency_id=federation.id,
        feed=Feed.REFERRAL,
        event=referral,
        subject_id=referral.person_id,
        source_event_id=referral.referral_id,
    )

    assert bodies.posted(plain, NOW, SETTINGS) == plain.body.encode()
    posted = json.loads(bodies.posted(with_photo, NOW, SETTINGS))
    assert posted["face_photo_link"].startswith("https://intake.rescue.example.cn/partner/photos/")
    unconfigured = SimpleNamespace(photo_link_key=None, photo_link_base_url=None)
    assert bodies.posted(with_photo, NOW, unconfigured) == with_photo.body.encode()


# ---- acknowledgement -----------------------------------------------------------------------


async def test_an_agency_acknowledges_its_own_delivery_once_and_not_anothers():
    mine, theirs = agency(), agency()
    uow = FakeUnitOfWork(actor=partner(mine), rows=[mine, theirs], now=NOW, settings=SETTINGS)
    deliveries = {}
    for to in (mine, theirs):
        event = referral_for(to)
        deliveries[to.id] = await deliver(
            uow,
            agency_id=to.id,
            feed="referral",
            event=event,
            subject_id=event.person_id,
            source_event_id=event.referral_id,
            acknowledge_within=timedelta(hours=1),
        )
    numbered(uow)
    uow.events.clear()
    own = deliveries[mine.id]

    item = await acknowledge_delivery(AcknowledgeDelivery(delivery_id=own.id), uow)
    again = await acknowledge_delivery(AcknowledgeDelivery(delivery_id=own.id), uow)

    assert item.acknowledged_at == again.acknowledged_at == NOW
    assert own.acknowledged_by == f"{mine.id}:p1"
    (fact,) = uow.events  # the second acknowledgement adds nothing
    assert isinstance(fact, PartnerDeliveryAcknowledgedV1)
    assert (fact.delivery_id, fact.agency_id, fact.person_id) == (own.id, mine.id, own.subject_id)
    for missing in (deliveries[theirs.id].id, uuid.uuid4()):
        with pytest.raises(NotFound):
            await acknowledge_delivery(AcknowledgeDelivery(delivery_id=missing), uow)
    assert deliveries[theirs.id].acknowledged_at is None


async def test_a_token_whose_agency_is_not_in_the_directory_reads_nothing():
    stranger = Principal(
        subject="p1", station_id="no-such-agency", roles=frozenset({"partner", "police"})
    )
    uow = FakeUnitOfWork(actor=stranger, rows=[], now=NOW, settings=SETTINGS)

    with pytest.raises(Forbidden):
        await read_feed(ReadFeed(), uow)


# ---- the overdue sweep ---------------------------------------------------------------------


async def test_an_unacknowledged_delivery_past_its_deadline_is_flagged_once():
    bureau = agency("civil_affairs")
    uow = FakeUnitOfWork(rows=[bureau], now=NOW)
    made = []
    for within in (timedelta(hours=1), timedelta(hours=3), None):
        event = referral_for(bureau)
        made.append(
            await deliver(
                uow,
                agency_id=bureau.id,
                feed="incident",
                event=event,
                subject_id=event.person_id,
                source_event_id=uuid.uuid4(),
                acknowledge_within=within,
            )
        )
    answered = await deliver(
        uow,
        agency_id=bureau.id,
        feed="incident",
        event=referral_for(bureau),
        subject_id=uuid.uuid4(),
        source_event_id=uuid.uuid4(),
        acknowledge_within=timedelta(hours=1),
    )
    answered.acknowledged_at = NOW
    uow.events.clear()
    later = NOW + timedelta(hours=2)

    assert await delivery_sweeps.flag_overdue(uow, later) == 1
    assert await delivery_sweeps.flag_overdue(uow, later) == 0  # once

    late, not_yet, no_deadline = made
    assert late.overdue_flagged_at == later
    assert not_yet.overdue_flagged_at is None and no_deadline.overdue_flagged_at is None
    (fact,) = uow.events
    assert isinstance(fact, PartnerDeliveryOverdueV1)
    assert (fact.delivery_id, fact.acknowledge_by, fact.feed) == (
        late.id,
        NOW + timedelta(hours=1),
        "incident",
    )


# ---- the outbox and relay: a topic named by the row ----------------------------------------


class _Writes:
    def __init__(self) -> None:
        self.added: list[tuple] = []

    def add(self, sql: str, *args) -> None:
        self.added.append(args)


def test_the_outbox_stages_an_event_on_the_topic_it_is_given():
    outbox = Outbox(outbox_table(), source="referral")
    event = referral_for(agency())
    writes = _Writes()

    own = outbox.stage_in(writes, event)
    given = outbox.stage_in(writes, event, topic="rescue.partner.agency.fed-1")

    assert own.topic == "rescue.partner.womens_federation"
    assert given.topic == "rescue.partner.agency.fed-1"
    assert [args[1] for args in writes.added] == [own.topic, given.topic]
    assert given.key == str(event.person_id)


async def test_the_relay_creates_a_topic_outside_the_registry_once_before_sending(monkeypatch):
    created: list[list[Topic]] = []

    async def ensure_topics(settings, topics):
        created.append(list(topics))
        return [t.name for t in topics]

    monkeypatch.setattr(relay_module, "ensure_topics", ensure_topics)
    known = Topic("rescue.referral.events", 6, "known")
    relay = relay_module.OutboxRelay(
        engine=None, table=outbox_table(), kafka=None, topics=[known], watch=object()
    )
    rows = [
        {"topic": "rescue.referral.events"},
        {"topic": "rescue.partner.agency.a-1"},
        {"topic": "rescue.search.events"},  # the registry's, though not this relay's
    ]

    await relay._ensure_row_topics(rows)
    await relay._ensure_row_topics(rows + [{"topic": "rescue.partner.agency.a-1"}])

    assert [[(t.name, t.partitions) for t in batch] for batch in created] == [
        [("rescue.partner.agency.a-1", relay.new_topic_partitions), ("rescue.search.events", 6)]
    ]


def outbox_table():
    return define_plumbing_tables(MetaData()).outbox
