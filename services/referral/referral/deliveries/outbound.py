"""Where every partner feed starts: ``deliver`` records one delivery per agency and
source event, publishes it on the agency's own topic and queues its webhook; the
pull feed (feed.py) serves the same row."""

from __future__ import annotations

import uuid
from datetime import timedelta
from enum import StrEnum

from referral.deliveries import store
from referral.tables import Agency, PartnerDelivery
from rescue_chassis.commands import UnitOfWork
from rescue_events.contracts import EventContract
from rescue_events.contracts.topics import AGENCY_TOPIC_PREFIX
from rescue_events.registry import registry

__all__ = ["AGENCY_TOPIC_PREFIX", "Feed", "agency_topic", "deliver"]


class Feed(StrEnum):
    REFERRAL = "referral"
    POLICE_CHECK = "police_check"
    DNA_SAMPLE = "dna_sample"
    INCIDENT = "incident"
    ESCALATION = "escalation"
    RETURN_NOTICE = "return_notice"


def agency_topic(agency_id: str) -> str:
    """The agency's own topic: only its messages, only its login may read it."""
    return f"{AGENCY_TOPIC_PREFIX}{agency_id}"


async def deliver(
    uow: UnitOfWork,
    *,
    agency_id: str,
    feed: Feed | str,
    event: EventContract,
    subject_id: uuid.UUID,
    source_event_id: uuid.UUID,
    acknowledge_within: timedelta | None = None,
) -> PartnerDelivery:
    """Deliver ``event`` to one agency, once per source event (a second call answers
    the first delivery): on its topic, by its webhook if it has one, on its pull
    feed; ``acknowledge_within``: the receipt it owes, flagged overdue after that."""
    feed = Feed(feed)
    done = await uow.find(PartnerDelivery, agency_id=agency_id, source_event_id=source_event_id)
    if done:
        return done[0]
    agency = await uow.get(Agency, agency_id)
    webhook = agency is not None and bool(agency.webhook_url)
    delivery = PartnerDelivery(
        id=uuid.uuid4(),
        agency_id=agency_id,
        feed=feed.value,
        event_type=registry.for_model(type(event)).name,
        body=event.model_dump_json(),
        subject_id=subject_id,
        source_event_id=source_event_id,
        created_at=uow.now,
        webhook_status="pending" if webhook else None,
        webhook_next_attempt_at=uow.now if webhook else None,
        acknowledge_by=uow.now + acknowledge_within if acknowledge_within else None,
    )
    uow.add(delivery)
    await store.publish_on(uow, event, agency_topic(agency_id))
    return delivery
