"""The deliveries' periodic work: a receipt not acknowledged by its deadline is
flagged overdue, once, with its event."""

from __future__ import annotations

from datetime import datetime

from referral.deliveries import store
from referral.tables import PartnerDelivery
from rescue_chassis.commands import UnitOfWork
from rescue_events.contracts.deliveries import (
    PartnerDeliveryFailedV1,
    PartnerDeliveryOverdueV1,
)

BATCH = 200


async def flag_overdue(uow: UnitOfWork, now: datetime) -> int:
    """Flag the unacknowledged deliveries past ``acknowledge_by``; how many."""
    late = await store.overdue(uow, now, BATCH)
    for delivery in late:
        delivery.overdue_flagged_at = now
        await uow.publish(
            PartnerDeliveryOverdueV1(
                person_id=delivery.subject_id,
                delivery_id=delivery.id,
                agency_id=delivery.agency_id,
                feed=delivery.feed,
                event_type=delivery.event_type,
                source_event_id=delivery.source_event_id,
                acknowledge_by=delivery.acknowledge_by,
                flagged_at=now,
            )
        )
    return len(late)


def failed(delivery: PartnerDelivery, now: datetime) -> PartnerDeliveryFailedV1:
    """The fact of a webhook given up."""
    return PartnerDeliveryFailedV1(
        person_id=delivery.subject_id,
        delivery_id=delivery.id,
        agency_id=delivery.agency_id,
        feed=delivery.feed,
        event_type=delivery.event_type,
        source_event_id=delivery.source_event_id,
        attempts=delivery.webhook_attempts,
        last_error=delivery.webhook_last_error,
        failed_at=now,
    )
