"""Escorts: the station plans a trip home for one or several persons, then runs it."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Annotated, Literal

from fastapi import APIRouter, Query
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import select

from rescue_chassis.access import STATION_WORK, can_see, sees_network
from rescue_chassis.auth import PrincipalDep, require_roles
from rescue_chassis.db import SessionDep
from rescue_chassis.idempotency import IdempotencyKey, IdempotentRequest
from rescue_chassis.moments import PastInstant, PlannedInstant
from rescue_chassis.problems import Problem, invalid
from rescue_chassis.runtime import RuntimeDep
from rescue_events.contracts import (
    EscortDepartedV1,
    EscortLegCompletedV1,
    EscortPlannedV1,
    TransportMode,
)
from transfer.api.common import conflict, ensure_escorting_station, refused
from transfer.domain import (
    EscortMember,
    EscortStatus,
    Leg,
    PlanningRefused,
    ReturnStatus,
    Traveller,
    check_escort_plan,
)
from transfer.tables import Escort, EscortLeg, Return, tables
from transfer.tables import Traveller as TravellerRow
from transfer.views import EscortView, LegView

router = APIRouter(prefix="/escorts", tags=["escorts"], dependencies=[require_roles(*STATION_WORK)])

Place = Annotated[str, Field(min_length=1, max_length=100, examples=["信阳东站"])]


class StaffMember(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=50, examples=["陈敏"])
    sex: Literal["male", "female"]
    role: Literal["escort", "medical", "driver"] = Field(
        description="`medical` for a doctor or nurse travelling with a sick person."
    )


class PlannedLeg(BaseModel):
    model_config = ConfigDict(extra="forbid")

    origin: Place
    destination: Place
    mode: TransportMode
    planned_departure_at: PlannedInstant
    planned_arrival_at: PlannedInstant | None = None


class EscortPlan(BaseModel):
    model_config = ConfigDict(extra="forbid")

    return_ids: list[uuid.UUID] = Field(
        min_length=1, max_length=20, description="The persons travelling together (a batch)."
    )
    staff: list[StaffMember] = Field(min_length=1, max_length=10)
    transport_mode: TransportMode
    vehicle: str | None = Field(default=None, max_length=50, examples=["豫S·A1234"])
    tickets: list[Annotated[str, Field(max_length=60)]] = Field(default_factory=list, max_length=60)
    legs: list[PlannedLeg] = Field(min_length=1, max_length=10)


class Departure(BaseModel):
    model_config = ConfigDict(extra="forbid")

    departed_at: PastInstant | None = None


class Arrival(BaseModel):
    model_config = ConfigDict(extra="forbid")

    arrived_at: PastInstant | None = None


async def escort_view(session, escort: Escort) -> EscortView:
    legs = (
        await session.scalars(
            select(EscortLeg).where(EscortLeg.escort_id == escort.id).order_by(EscortLeg.sequence)
        )
    ).all()
    return_ids = (
        await session.scalars(
            select(Return.id).where(Return.escort_id == escort.id).order_by(Return.opened_at)
        )
    ).all()
    return EscortView.model_validate(
        {
            **escort.model_dump(),
            "legs": [LegView.model_validate(leg, from_attributes=True) for leg in legs],
            "return_ids": list(return_ids),
        }
    )


async def load_escort(session, runtime, principal, escort_id, *, for_update=False) -> Escort:
    escort = await session.get(Escort, escort_id, with_for_update=for_update)
    if escort is None or not (
        sees_network(principal, runtime.network) or principal.station_id == escort.escort_station_id
    ):
        raise Problem(404, "Not found", "No such escort.")
    return escort


async def passengers(session, escort_id: uuid.UUID) -> list[Return]:
    return list(
        (
            await session.scalars(
                select(Return).where(Return.escort_id == escort_id).with_for_update()
            )
        ).all()
    )


@router.post("", status_code=201, response_model=EscortView)
async def plan_escort(
    plan: EscortPlan,
    principal: PrincipalDep,
    session: SessionDep,
    runtime: RuntimeDep,
    idempotency_key: IdempotencyKey = None,
):
    """Plan one escort for one or several pending returns to the same province
    (`escort_planned` for each person)."""
    idem = await IdempotentRequest.check(
        session, tables.idempotency, idempotency_key, principal, plan
    )
    if idem.replayed:
        return JSONResponse(idem.stored_response, status_code=idem.stored_status)
    if len(set(plan.return_ids)) != len(plan.return_ids):
        raise invalid("return_ids", "lists a return twice")
    returns = list(
        (
            await session.scalars(
                select(Return).where(Return.id.in_(plan.return_ids)).with_for_update()
            )
        ).all()
    )
    # another station's return is "no such return", as a made-up id: no existence, no escort
    returns = [
        r for r in returns if can_see(principal, runtime.network, r.station_id, r.escort_station_id)
    ]
    missing = set(plan.return_ids) - {r.id for r in returns}
    if missing:
        raise invalid("return_ids", f"no such return: {sorted(map(str, missing))[0]}")
    profiles = {
        t.person_id: t
        for t in (
            await session.scalars(
                select(TravellerRow).where(
                    TravellerRow.person_id.in_([r.person_id for r in returns])
                )
            )
        ).all()
    }
    try:
        destination = check_escort_plan(
            planning_station=principal.station_id,
            travellers=[_traveller(r, profiles.get(r.person_id)) for r in returns],
            staff=[EscortMember(m.name, m.sex, m.role) for m in plan.staff],
            legs=[Leg(leg.origin, leg.destination) for leg in plan.legs],
        )
    except PlanningRefused as error:
        raise refused(error) from None

    now = datetime.now(UTC)
    escort = Escort(
        id=uuid.uuid4(),
        escort_station_id=principal.station_id,
        destination_province=destination,
        status=EscortStatus.PLANNED.value,
        transport_mode=plan.transport_mode.value,
        vehicle=plan.vehicle,
        tickets=plan.tickets,
        staff=[m.model_dump() for m in plan.staff],
        planned_departure_at=plan.legs[0].planned_departure_at,
        planned_by=principal.subject,
        created_at=now,
    )
    session.add(escort)
    await session.flush()
    session.add_all(
        EscortLeg(
            id=uuid.uuid4(),
            escort_id=escort.id,
            sequence=i,
            origin=leg.origin,
            destination=leg.destination,
            mode=leg.mode.value,
            planned_departure_at=leg.planned_departure_at,
            planned_arrival_at=leg.planned_arrival_at,
        )
        for i, leg in enumerate(plan.legs, start=1)
    )
    for r in returns:
        r.status = ReturnStatus.PLANNED.value
        r.escort_id = escort.id
        await runtime.outbox.stage(
            session,
            EscortPlannedV1(
                person_id=r.person_id,
                escort_id=escort.id,
                return_id=r.id,
                escort_station_id=escort.escort_station_id,
                destination_province=destination,
                transport_mode=plan.transport_mode,
                planned_departure_at=escort.planned_departure_at,
                batch_size=len(returns),
            ),
        )
    await session.flush()
    result = await escort_view(session, escort)
    await idem.remember(session, 201, result.model_dump(mode="json"))
    await session.commit()
    return result


def _traveller(r: Return, profile: TravellerRow | None) -> Traveller:
    return Traveller(
        return_id=str(r.id),
        status=ReturnStatus(r.status),
        escort_station_id=r.escort_station_id,
        destination_province=r.destination_province,
        sex=profile.sex if profile else None,
        categories=frozenset(profile.categories if profile else ()),
        fit_to_travel=r.fit_to_travel,
        medical_escort_required=r.medical_escort_required,
    )


@router.get("", response_model=list[EscortView])
async def list_escorts(
    principal: PrincipalDep,
    session: SessionDep,
    runtime: RuntimeDep,
    status: EscortStatus | None = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
):
    query = select(Escort).order_by(Escort.planned_departure_at.desc()).limit(limit)
    if not sees_network(principal, runtime.network):
        query = query.where(Escort.escort_station_id == principal.station_id)
    if status:
        query = query.where(Escort.status == status.value)
    return [await escort_view(session, e) for e in (await session.scalars(query)).all()]


@router.get("/{escort_id}", response_model=EscortView)
async def get_escort(
    escort_id: uuid.UUID, principal: PrincipalDep, session: SessionDep, runtime: RuntimeDep
):
    return await escort_view(session, await load_escort(session, runtime, principal, escort_id))


@router.post("/{escort_id}/departure", response_model=EscortView)
async def record_departure(
    escort_id: uuid.UUID,
    departure: Departure,
    principal: PrincipalDep,
    session: SessionDep,
    runtime: RuntimeDep,
):
    """The escort left (`escort_departed` for each person on board)."""
    escort = await load_escort(session, runtime, principal, escort_id, for_update=True)
    ensure_escorting_station(principal, escort.escort_station_id)
    if escort.status != EscortStatus.PLANNED.value:
        raise conflict("Already departed", f"The escort is {escort.status}.")
    departed_at = _not_future("departed_at", departure.departed_at)
    escort.status = EscortStatus.DEPARTED.value
    escort.departed_at = departed_at
    for r in await passengers(session, escort.id):
        if r.status == ReturnStatus.PLANNED.value:
            r.status = ReturnStatus.IN_TRANSIT.value
            await runtime.outbox.stage(
                session,
                EscortDepartedV1(
                    person_id=r.person_id,
                    escort_id=escort.id,
                    return_id=r.id,
                    departed_at=departed_at,
                ),
            )
    result = await escort_view(session, escort)
    await session.commit()
    return result


@router.post("/{escort_id}/legs/{sequence}/arrival", response_model=EscortView)
async def record_leg_arrival(
    escort_id: uuid.UUID,
    sequence: int,
    arrival: Arrival,
    principal: PrincipalDep,
    session: SessionDep,
    runtime: RuntimeDep,
):
    """The escort reached the end of a leg (`escort_leg_completed` for each person)."""
    escort = await load_escort(session, runtime, principal, escort_id, for_update=True)
    ensure_escorting_station(principal, escort.escort_station_id)
    if escort.status != EscortStatus.DEPARTED.value:
        raise conflict("Not on the way", f"The escort is {escort.status}.")
    leg = await session.scalar(
        select(EscortLeg).where(EscortLeg.escort_id == escort.id, EscortLeg.sequence == sequence)
    )
    if leg is None:
        raise Problem(404, "Not found", f"The escort has no leg {sequence}.")
    if leg.arrived_at is not None:
        raise conflict("Already arrived", f"Leg {sequence} arrived at {leg.arrived_at:%H:%M}.")
    earlier = await session.scalar(
        select(EscortLeg.sequence).where(
            EscortLeg.escort_id == escort.id,
            EscortLeg.sequence < sequence,
            EscortLeg.arrived_at.is_(None),
        )
    )
    if earlier is not None:
        raise conflict("Leg not finished", f"Leg {earlier} has not arrived yet.")
    leg.arrived_at = _not_future("arrived_at", arrival.arrived_at)
    for r in await passengers(session, escort.id):
        if r.status == ReturnStatus.IN_TRANSIT.value:
            await runtime.outbox.stage(
                session,
                EscortLegCompletedV1(
                    person_id=r.person_id,
                    escort_id=escort.id,
                    return_id=r.id,
                    sequence=sequence,
                    origin=leg.origin,
                    destination=leg.destination,
                    arrived_at=leg.arrived_at,
                ),
            )
    result = await escort_view(session, escort)
    await session.commit()
    return result


def _not_future(field: str, moment: datetime | None) -> datetime:
    now = datetime.now(UTC)
    if moment is not None and moment > now:
        raise invalid(field, "lies in the future")
    return moment or now
