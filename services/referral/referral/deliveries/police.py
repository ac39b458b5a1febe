"""Police requests reach the agency asked, and it alone: search's identity checks
(快响快查快反) and DNA samples (打拐DNA), heard on rescue.partner.police, delivered
on the agency's own topic, webhook and pull feed (a check with a fresh photo link,
bodies.py)."""

from __future__ import annotations

import logging
import uuid

from sqlalchemy.ext.asyncio import AsyncSession

from referral.deliveries.outbound import Feed, deliver
from rescue_chassis.commands import UnitOfWork
from rescue_chassis.runtime import Runtime
from rescue_events.contracts.search_police import (
    PoliceDnaSampleSubmittedV1,
    PoliceIdentityCheckRequestedV1,
)
from rescue_events.envelope import Envelope

log = logging.getLogger(__name__)

PoliceRequest = PoliceIdentityCheckRequestedV1 | PoliceDnaSampleSubmittedV1


async def deliver_request(
    uow: UnitOfWork, event: PoliceRequest, envelope: Envelope, feed: Feed
) -> None:
    """To the agency the request names; a request naming none has no one to reach."""
    if event.agency_id is None:
        log.warning("%s %s names no police agency: not delivered", envelope.type, envelope.id)
        return
    await deliver(
        uow,
        agency_id=event.agency_id,
        feed=feed,
        event=event,
        subject_id=event.person_id,
        source_event_id=uuid.UUID(envelope.id),
    )


def handlers(runtime: Runtime):
    async def when_identity_check_requested_deliver(
        session: AsyncSession, event: PoliceIdentityCheckRequestedV1, envelope: Envelope
    ) -> None:
        uow = UnitOfWork(session, runtime)
        await deliver_request(uow, event, envelope, Feed.POLICE_CHECK)

    async def when_dna_sample_submitted_deliver(
        session: AsyncSession, event: PoliceDnaSampleSubmittedV1, envelope: Envelope
    ) -> None:
        uow = UnitOfWork(session, runtime)
        await deliver_request(uow, event, envelope, Feed.DNA_SAMPLE)

    return {
        PoliceIdentityCheckRequestedV1: when_identity_check_requested_deliver,
        PoliceDnaSampleSubmittedV1: when_dna_sample_submitted_deliver,
    }
