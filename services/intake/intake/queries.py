"""What intake's reading routes ask: the lists, each in the caller's scope, and
their answers shaped into the views. ``uow`` is a reading unit of work (its
session, its actor, its network). The station's views are in station_views, the
person's record and care in record_views."""

from __future__ import annotations

import uuid

from sqlalchemy import func, select

from intake.domain import LeadStatus
from intake.refusal_views import RefusalView
from intake.tables import HospitalPlacement, Lead, Person, Refusal, Stay, StaySource
from intake.tables.burial import Burial
from intake.views import (
    BurialView,
    LeadView,
    PersonView,
    PlacementView,
    StaySourceView,
    person_view_in,
    person_views,
    placement_view,
)
from rescue_chassis.access import sees_network
from rescue_chassis.commands import UnitOfWork, visible
from rescue_events.contracts import IdentityStatus


async def persons(
    uow: UnitOfWork, identity_status: IdentityStatus | None, limit: int
) -> list[PersonView]:
    """The caller's station's persons (the center: the network), the latest admitted
    first."""
    query = (
        select(Person)
        .join(Stay, Stay.id == Person.current_stay_id)
        .order_by(Stay.admitted_at.desc())
        .limit(limit)
    )
    if not sees_network(uow.actor, uow.network):
        query = query.where(Person.station_id == uow.actor.station_id)
    if identity_status is not None:
        query = query.where(Person.identity_status == identity_status.value)
    return await person_views(uow.session, (await uow.session.scalars(query)).all())


async def person_record(uow: UnitOfWork, person_id: uuid.UUID) -> PersonView:
    """The person's record for the station that has the person, the center, and every
    station of an earlier stay (it keeps reading what it did); a 404 for others."""
    person = await uow.get(Person, person_id)
    stays = await uow.find(Stay, person_id=person_id, order_by=Stay.sequence)
    visible(person, uow, "person", lambda p: {p.station_id, *(s.station_id for s in stays)})
    view = await person_view_in(uow, person)
    view.refusal_count = await uow.session.scalar(
        select(func.count()).select_from(Refusal).where(Refusal.person_id == person_id)
    )
    burial = await uow.get(Burial, person_id)
    view.burial = BurialView.model_validate(burial) if burial else None
    return view


async def stay_sources(uow: UnitOfWork, person_id: uuid.UUID) -> list[StaySourceView]:
    """Where each transferred stay of the person came from, in stay order; a 404
    outside the caller's scope."""
    await uow.load(Person, person_id, what="person")
    found = await uow.session.scalars(
        select(StaySource)
        .join(Stay, Stay.id == StaySource.stay_id)
        .where(Stay.person_id == person_id)
        .order_by(Stay.sequence)
    )
    return [StaySourceView.model_validate(s) for s in found.all()]


async def open_placements(uow: UnitOfWork) -> list[PlacementView]:
    """Open hospital placements of the caller's station (the center: the network),
    oldest first."""
    query = (
        select(HospitalPlacement)
        .where(HospitalPlacement.status == "open")
        .order_by(HospitalPlacement.placed_at)
    )
    if not sees_network(uow.actor, uow.network):
        query = query.where(HospitalPlacement.station_id == uow.actor.station_id)
    return [await placement_view(uow, p) for p in (await uow.session.scalars(query)).all()]


async def leads(uow: UnitOfWork, status: LeadStatus | None, limit: int) -> list[LeadView]:
    """The caller's station's leads (the center: the network), newest first."""
    query = select(Lead).order_by(Lead.received_at.desc()).limit(limit)
    if not sees_network(uow.actor, uow.network):
        query = query.where(Lead.station_id == uow.actor.station_id)
    if status is not None:
        query = query.where(Lead.status == status.value)
    return [LeadView.model_validate(lead) for lead in (await uow.session.scalars(query)).all()]


async def refusals(
    uow: UnitOfWork, limit: int, person_id: uuid.UUID | None = None
) -> list[RefusalView]:
    """The caller's station's refusals of help (the center: the network), newest first;
    with ``person_id``, that person's."""
    query = select(Refusal).order_by(Refusal.found_at.desc()).limit(limit)
    if not sees_network(uow.actor, uow.network):
        query = query.where(Refusal.station_id == uow.actor.station_id)
    if person_id is not None:
        query = query.where(Refusal.person_id == person_id)
    return [RefusalView.model_validate(r) for r in (await uow.session.scalars(query)).all()]
