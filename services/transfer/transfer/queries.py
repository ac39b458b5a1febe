"""What transfer's reading routes ask: each query in the caller's scope, and its
answer shaped into the views. ``uow`` is a reading unit of work (its session, its
actor, its network)."""

from __future__ import annotations

import uuid
from collections import defaultdict

from sqlalchemy import or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from rescue_chassis.access import sees_network
from rescue_chassis.commands import UnitOfWork
from rescue_chassis.refusals import NotFound
from transfer.commands.common import escort_stations, return_stations
from transfer.domain import EscortStatus, ReturnStatus
from transfer.tables import Escalation, Escort, Return, ReturnNotice
from transfer.views import (
    EscalationView,
    EscortView,
    PlanningGroup,
    ReturnView,
    escalation_view,
    escort_view,
    return_view,
)


async def returns(
    uow: UnitOfWork,
    person_id: uuid.UUID | None,
    status: ReturnStatus | None,
    escort_id: uuid.UUID | None,
    limit: int,
) -> list[ReturnView]:
    """Returns of the caller's station or escorted by it (the center: all), newest first."""
    query = select(Return).order_by(Return.opened_at.desc()).limit(limit)
    if not sees_network(uow.actor, uow.network):
        query = query.where(
            or_(
                Return.station_id == uow.actor.station_id,
                Return.escort_station_id == uow.actor.station_id,
            )
        )
    if person_id:
        query = query.where(Return.person_id == person_id)
    if status:
        query = query.where(Return.status == status.value)
    if escort_id:
        query = query.where(Return.escort_id == escort_id)
    return [return_view(r) for r in (await uow.session.scalars(query)).all()]


async def planning(session: AsyncSession, escort_station_id: str) -> list[PlanningGroup]:
    """Pending returns this station escorts, grouped by destination province, the
    largest group first."""
    query = (
        select(Return)
        .where(
            Return.status == ReturnStatus.PENDING.value,
            Return.escort_station_id == escort_station_id,
        )
        .order_by(Return.destination_province, Return.opened_at)
    )
    groups: dict[str, list[ReturnView]] = defaultdict(list)
    for r in (await session.scalars(query)).all():
        groups[r.destination_province].append(return_view(r))
    return [
        PlanningGroup(destination_province=p, pending=len(rs), returns=rs)
        for p, rs in sorted(groups.items(), key=lambda kv: -len(kv[1]))
    ]


async def return_(uow: UnitOfWork, return_id: uuid.UUID) -> ReturnView:
    """One return, or a 404 outside the caller's scope."""
    return return_view(await uow.load(Return, return_id, what="return", stations=return_stations))


async def notice_html(uow: UnitOfWork, return_id: uuid.UUID) -> str:
    """The written notice of a return in the caller's scope; a 404 before the handover."""
    await uow.load(Return, return_id, what="return", stations=return_stations)
    notice = await uow.session.scalar(
        select(ReturnNotice).where(ReturnNotice.return_id == return_id)
    )
    if notice is None:
        raise NotFound("notice", "No notice yet: it is issued at the handover.")
    return notice.html


async def signature_png(uow: UnitOfWork, return_id: uuid.UUID) -> bytes:
    """The receiver's signature drawn at the handover of a return in the caller's
    scope; a 404 before the handover (or when none was kept)."""
    found = await uow.load(Return, return_id, what="return", stations=return_stations)
    if not found.signature_png:
        raise NotFound("signature", "No signature: it is drawn at the handover.")
    return found.signature_png


async def escalations(uow: UnitOfWork, status: str | None) -> list[EscalationView]:
    """Escalations of the caller's escorts (the center: all), oldest first."""
    query = select(Escalation).order_by(Escalation.opened_at)
    if not sees_network(uow.actor, uow.network):
        query = query.where(Escalation.escort_station_id == uow.actor.station_id)
    if status:
        query = query.where(Escalation.status == status)
    return [escalation_view(e) for e in (await uow.session.scalars(query)).all()]


async def escorts(uow: UnitOfWork, status: EscortStatus | None, limit: int) -> list[EscortView]:
    """Escorts the caller's station runs (the center: all), latest departure first."""
    query = select(Escort).order_by(Escort.planned_departure_at.desc()).limit(limit)
    if not sees_network(uow.actor, uow.network):
        query = query.where(Escort.escort_station_id == uow.actor.station_id)
    if status:
        query = query.where(Escort.status == status.value)
    return [await escort_view(uow, e) for e in (await uow.session.scalars(query)).all()]


async def escort(uow: UnitOfWork, escort_id: uuid.UUID) -> EscortView:
    """One escort with its legs and persons, or a 404 outside the caller's scope."""
    found = await uow.load(Escort, escort_id, what="escort", stations=escort_stations)
    return await escort_view(uow, found)
