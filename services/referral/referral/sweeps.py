"""Referral's periodic jobs: deadlines (overdue once, escalated), routing of
referrals no agency served yet, and the partner deliveries: webhooks, and
receipts not acknowledged in time."""

from __future__ import annotations

from datetime import datetime

import httpx
from sqlalchemy import and_, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from referral import webhooks
from referral.deliveries import bodies
from referral.deliveries import sweeps as delivery_sweeps
from referral.domain import ESCALATED_TO
from referral.lifecycle import reroute
from referral.tables import PartnerDelivery, Person, Referral
from rescue_chassis.commands import UnitOfWork
from rescue_chassis.periodic import PeriodicJob
from rescue_chassis.runtime import Runtime
from rescue_events.contracts import ReferralOverdueV1, ReferralStatus

S = ReferralStatus
BATCH = 200


def jobs(runtime: Runtime) -> list[PeriodicJob]:
    policy = runtime.settings.webhook_policy
    client = policy.client(timeout=httpx.Timeout(5.0), follow_redirects=False)
    retry_base = runtime.settings.webhook_retry_base_seconds

    async def deadlines(session: AsyncSession, now: datetime) -> int:
        return await raise_overdue(session, runtime, now)

    async def routing(session: AsyncSession, now: datetime) -> int:
        return await route_waiting(session, runtime, now)

    async def deliveries(session: AsyncSession, now: datetime) -> int:
        uow = UnitOfWork(session, runtime, now=now)

        async def given_up(delivery: PartnerDelivery) -> None:
            await uow.publish(delivery_sweeps.failed(delivery, now))

        return await webhooks.deliver_due(
            session,
            now,
            client,
            retry_base,
            policy,
            body_of=lambda delivery, at: bodies.posted(delivery, at, runtime.settings),
            on_failed=given_up,
        )

    async def acknowledgements(session: AsyncSession, now: datetime) -> int:
        return await delivery_sweeps.flag_overdue(UnitOfWork(session, runtime, now=now), now)

    return [
        PeriodicJob("referral-deadlines", deadlines),
        PeriodicJob("referral-routing", routing),
        PeriodicJob("webhook-deliveries", deliveries),
        PeriodicJob("delivery-acknowledgements", acknowledgements),
    ]


async def raise_overdue(session: AsyncSession, runtime: Runtime, now: datetime) -> int:
    """A partner that did not acknowledge, or accepted and did not act, in time:
    each deadline raises its event once (remembered on the row)."""
    unacknowledged = and_(
        Referral.status == S.SENT.value,
        Referral.acknowledge_by < now,
        Referral.acknowledgement_overdue_at.is_(None),
    )
    inactive = and_(
        Referral.status.in_([S.ACCEPTED.value, S.IN_PROGRESS.value]),
        Referral.act_by < now,
        Referral.action_overdue_at.is_(None),
    )
    late = (
        await session.scalars(
            select(Referral)
            .where(or_(unacknowledged, inactive))
            .limit(BATCH)
            .with_for_update(skip_locked=True)
        )
    ).all()
    uow = UnitOfWork(session, runtime, now=now)
    for referral in late:
        if referral.status == S.SENT.value:
            referral.acknowledgement_overdue_at = now
            deadline, due = "acknowledgement", referral.acknowledge_by
        else:
            referral.action_overdue_at = now
            deadline, due = "action", referral.act_by
        await uow.publish(
            ReferralOverdueV1(
                person_id=referral.person_id,
                referral_id=referral.id,
                agency_id=referral.agency_id,
                station_id=referral.station_id,
                deadline=deadline,
                due_at=due,
                escalated_to=ESCALATED_TO,
            )
        )
    return len(late)


async def route_waiting(session: AsyncSession, runtime: Runtime, now: datetime) -> int:
    """Referrals opened before any agency served their area: route them as soon as
    one is in the directory."""
    waiting = (
        await session.scalars(
            select(Referral)
            .where(Referral.status == S.CREATED.value, Referral.agency_id.is_(None))
            .limit(BATCH)
            .with_for_update(skip_locked=True)
        )
    ).all()
    uow = UnitOfWork(session, runtime, now=now)
    routed = 0
    for referral in waiting:
        person = await uow.get(Person, referral.person_id)
        if person is not None and await reroute(uow, referral, person):
            routed += 1
    return routed
