"""The deliveries' SQL and their publication on an agency's own topic (unit tests
replace these, as they replace a service's statements)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select

from referral.tables import PartnerDelivery
from rescue_chassis.commands import UnitOfWork
from rescue_events.contracts import EventContract


async def publish_on(uow: UnitOfWork, event: EventContract, topic: str) -> None:
    """The event in this transaction's outbox, for ``topic`` instead of its contract's."""
    await uow.runtime.outbox.stage(uow.session, event, topic=topic)


async def feed_page(
    uow: UnitOfWork, agency_id: str, since: int, limit: int, feed: str | None
) -> list[PartnerDelivery]:
    """The agency's deliveries after the cursor ``since``, oldest first."""
    query = (
        select(PartnerDelivery)
        .where(PartnerDelivery.agency_id == agency_id, PartnerDelivery.cursor > since)
        .order_by(PartnerDelivery.cursor)
        .limit(limit)
    )
    if feed is not None:
        query = query.where(PartnerDelivery.feed == feed)
    return list((await uow.session.scalars(query)).all())


async def overdue(uow: UnitOfWork, now: datetime, limit: int) -> list[PartnerDelivery]:
    """Unacknowledged deliveries past their deadline not flagged yet, locked."""
    query = (
        select(PartnerDelivery)
        .where(
            PartnerDelivery.acknowledge_by < now,
            PartnerDelivery.acknowledged_at.is_(None),
            PartnerDelivery.overdue_flagged_at.is_(None),
        )
        .order_by(PartnerDelivery.acknowledge_by)
        .limit(limit)
        .with_for_update(skip_locked=True)
    )
    return list((await uow.session.scalars(query)).all())
