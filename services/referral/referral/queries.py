"""What referral's reading routes ask: each query in the caller's scope, and its
answer shaped into the views."""

from __future__ import annotations

import uuid

from sqlalchemy import or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from referral.commands.referrals import NOT_YET_SENT
from referral.domain import OPEN
from referral.tables import Agency, PartnerDelivery, Person, Referral
from referral.views import (
    AgencyView,
    DeliveryStatus,
    DeliveryView,
    PartnerReferralView,
    ReferralView,
    partner_view,
)
from rescue_chassis.access import sees_network
from rescue_chassis.commands import UnitOfWork
from rescue_chassis.network import Network
from rescue_events.contracts import PartnerType, ReferralStatus


async def referrals(
    uow: UnitOfWork,
    person_id: uuid.UUID | None,
    partner_type: PartnerType | None,
    status: ReferralStatus | None,
    overdue: bool,
    limit: int,
) -> list[ReferralView]:
    """The caller's station's referrals (the center: all), newest first;
    ``overdue``: the open ones a partner has let slip."""
    query = select(Referral).order_by(Referral.opened_at.desc()).limit(limit)
    if not sees_network(uow.actor, uow.network):
        query = query.where(Referral.station_id == uow.actor.station_id)
    if person_id:
        query = query.where(Referral.person_id == person_id)
    if partner_type:
        query = query.where(Referral.partner_type == partner_type.value)
    if status:
        query = query.where(Referral.status == status.value)
    if overdue:
        query = query.where(
            Referral.status.in_([s.value for s in OPEN]),
            or_(
                Referral.acknowledgement_overdue_at.is_not(None),
                Referral.action_overdue_at.is_not(None),
            ),
        )
    return [ReferralView.model_validate(r) for r in (await uow.session.scalars(query)).all()]


async def referral(uow: UnitOfWork, referral_id: uuid.UUID) -> ReferralView:
    """One referral, or a 404 outside the caller's scope."""
    return ReferralView.model_validate(await uow.load(Referral, referral_id, what="referral"))


async def agency_referrals(
    session: AsyncSession, network: Network, agency_id: str, limit: int
) -> list[PartnerReferralView]:
    """The referrals sent to an agency, newest first, as its feed shows them."""
    rows = (
        await session.execute(
            select(Referral, Person)
            .join(Person, Person.person_id == Referral.person_id)
            .where(Referral.agency_id == agency_id, Referral.status.not_in(NOT_YET_SENT))
            .order_by(Referral.sent_at.desc())
            .limit(limit)
        )
    ).all()
    return [partner_view(network, referral, person) for referral, person in rows]


async def deliveries(
    session: AsyncSession,
    status: DeliveryStatus | None,
    agency_id: str | None,
    feed: str | None,
    limit: int,
) -> list[DeliveryView]:
    """Deliveries to partner agencies, newest first, filtered as ops ask."""
    D = PartnerDelivery
    query = select(D).order_by(D.cursor.desc()).limit(limit)
    if agency_id:
        query = query.where(D.agency_id == agency_id)
    if feed:
        query = query.where(D.feed == feed)
    if status in (DeliveryStatus.PENDING, DeliveryStatus.DELIVERED, DeliveryStatus.FAILED):
        query = query.where(D.webhook_status == status.value)
    elif status is DeliveryStatus.UNACKNOWLEDGED:
        query = query.where(D.acknowledge_by.is_not(None), D.acknowledged_at.is_(None))
    elif status is DeliveryStatus.ACKNOWLEDGED:
        query = query.where(D.acknowledged_at.is_not(None))
    elif status is DeliveryStatus.OVERDUE:
        query = query.where(D.overdue_flagged_at.is_not(None), D.acknowledged_at.is_(None))
    return [DeliveryView.model_validate(d) for d in (await session.scalars(query)).all()]


async def partners(session: AsyncSession, partner_type: PartnerType | None) -> list[AgencyView]:
    """The partner directory, by type and jurisdiction; ``partner_type``: only those."""
    query = select(Agency).order_by(Agency.partner_type, Agency.jurisdiction_code)
    if partner_type:
        query = query.where(Agency.partner_type == partner_type.value)
    return [AgencyView.model_validate(a) for a in (await session.scalars(query)).all()]
