"""The pull feed, for agencies that can neither consume Kafka nor run a webhook:
their deliveries after a cursor, and their acknowledgement of one. Only the
caller's own agency's (a delivery of another answers as none)."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from pydantic import BaseModel, Field

from referral.commands.partner import agency_of
from referral.deliveries import bodies, store
from referral.deliveries.outbound import Feed
from referral.tables import PartnerDelivery
from rescue_chassis.commands import Command, UnitOfWork
from rescue_chassis.refusals import NotFound
from rescue_events.contracts.deliveries import PartnerDeliveryAcknowledgedV1


class FeedItem(BaseModel):
    cursor: int = Field(description="Pass the last one seen as `since` to read on.")
    delivery_id: uuid.UUID
    feed: str
    event_type: str
    person_id: uuid.UUID = Field(description="The person the message is about.")
    body: dict[str, Any] = Field(
        description="The message, as on the agency's topic; a police check adds a fresh, "
        "short-lived `face_photo_link` (with `face_photo_link_expires_at`)."
    )
    created_at: datetime
    acknowledge_by: datetime | None
    acknowledged_at: datetime | None


class FeedPage(BaseModel):
    items: list[FeedItem]
    next: int = Field(description="The cursor to ask from next (`since`).")


class ReadFeed(Command):
    since: int = Field(default=0, ge=0)
    limit: int = Field(default=100, ge=1, le=500)
    feed: Feed | None = None


class AcknowledgeDelivery(Command):
    delivery_id: uuid.UUID


def item(delivery: PartnerDelivery, now: datetime, settings: Any) -> FeedItem:
    return FeedItem(
        cursor=delivery.cursor,
        delivery_id=delivery.id,
        feed=delivery.feed,
        event_type=delivery.event_type,
        person_id=delivery.subject_id,
        body=bodies.body(delivery, now, settings),
        created_at=delivery.created_at,
        acknowledge_by=delivery.acknowledge_by,
        acknowledged_at=delivery.acknowledged_at,
    )


async def read_feed(command: ReadFeed, uow: UnitOfWork) -> FeedPage:
    """The caller's agency's deliveries after ``since``, oldest first."""
    agency_id = await agency_of(uow)
    feed = command.feed.value if command.feed else None
    rows = await store.feed_page(uow, agency_id, command.since, command.limit, feed)
    return FeedPage(
        items=[item(row, uow.now, uow.settings) for row in rows],
        next=rows[-1].cursor if rows else command.since,
    )


async def acknowledge_delivery(command: AcknowledgeDelivery, uow: UnitOfWork) -> FeedItem:
    """The agency has it: recorded once (again: the same answer)."""
    agency_id = await agency_of(uow)
    delivery = await uow.get(PartnerDelivery, command.delivery_id, lock=True)
    if delivery is None or delivery.agency_id != agency_id:
        raise NotFound("delivery", "No such delivery for your agency.")
    if delivery.acknowledged_at is None:
        delivery.acknowledged_at = uow.now
        delivery.acknowledged_by = f"{agency_id}:{uow.actor.subject}"[:200]
        await uow.publish(
            PartnerDeliveryAcknowledgedV1(
                person_id=delivery.subject_id,
                delivery_id=delivery.id,
                agency_id=agency_id,
                feed=delivery.feed,
                event_type=delivery.event_type,
                source_event_id=delivery.source_event_id,
                acknowledged_at=uow.now,
                acknowledged_by=delivery.acknowledged_by,
                acknowledge_by=delivery.acknowledge_by,
            )
        )
    return item(delivery, uow.now, uow.settings)
