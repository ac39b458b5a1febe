"""Escorts: a station plans a trip home for one or several persons, then runs it."""

from __future__ import annotations

import uuid
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field

from rescue_chassis.commands import Command, UnitOfWork
from rescue_chassis.moments import PastInstant, PlannedInstant
from rescue_chassis.refusals import Conflict, NotFound, Refused
from rescue_events.contracts import (
    EscortDepartedV1,
    EscortLegCompletedV1,
    EscortPlannedV1,
    TransportMode,
)
from transfer import statements
from transfer.commands.common import ensure_escorting_station, escort_stations, return_stations
from transfer.domain import (
    EscortMember,
    EscortStatus,
    Leg,
    ReturnStatus,
    Traveller,
    check_escort_plan,
    not_future,
)
from transfer.tables import Escort, EscortLeg, Return
from transfer.tables import Traveller as TravellerRow
from transfer.views import EscortView, escort_view

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


class PlanEscort(Command):
    plan: EscortPlan


async def plan_escort(command: PlanEscort, uow: UnitOfWork) -> EscortView:
    """One escort for one or several pending returns to the same province, run by
    the caller's station (`escort_planned` for each person)."""
    plan = command.plan
    if len(set(plan.return_ids)) != len(plan.return_ids):
        raise Refused("return_ids", "lists a return twice")
    found: dict[uuid.UUID, Return] = {}
    for return_id in sorted(plan.return_ids):  # locked in one order: plans never deadlock
        row = await uow.get(Return, return_id, lock=True)
        # another station's return is "no such return", as a made-up id: no existence leaks
        if row is not None and uow.sees(*return_stations(row)):
            found[return_id] = row
    missing = set(plan.return_ids) - found.keys()
    if missing:
        raise Refused("return_ids", f"no such return: {sorted(map(str, missing))[0]}")
    returns = [found[return_id] for return_id in plan.return_ids]
    destination = check_escort_plan(
        planning_station=uow.actor.station_id,
        travellers=[_traveller(r, await uow.get(TravellerRow, r.person_id)) for r in returns],
        staff=[EscortMember(m.name, m.sex, m.role) for m in plan.staff],
        legs=[Leg(leg.origin, leg.destination) for leg in plan.legs],
    )

    escort = Escort(
        id=uuid.uuid4(),
        escort_station_id=uow.actor.station_id,
        destination_province=destination,
        status=EscortStatus.PLANNED.value,
        transport_mode=plan.transport_mode.value,
        vehicle=plan.vehicle,
        tickets=plan.tickets,
        staff=[m.model_dump() for m in plan.staff],
        planned_departure_at=plan.legs[0].planned_departure_at,
        planned_by=uow.actor.subject,
        created_at=uow.now,
    )
    uow.add(escort)
    await uow.flush()  # the escort row first: its legs and returns refer to it
    uow.add(
        *(
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
    )
    for r in returns:
        r.status = ReturnStatus.PLANNED.value
        r.escort_id = escort.id
        await uow.publish(
            EscortPlannedV1(
                person_id=r.person_id,
                escort_id=escort.id,
                return_id=r.id,
                escort_station_id=escort.escort_station_id,
                destination_province=destination,
                transport_mode=plan.transport_mode,
                planned_departure_at=escort.planned_departure_at,
                batch_size=len(returns),
            )
        )
    return await escort_view(uow, escort)


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


async def _running_escort(uow: UnitOfWork, escort_id: uuid.UUID) -> Escort:
    """The escort, locked, if the caller's station runs it (404 unseen, 403 not theirs)."""
    escort = await uow.load(Escort, escort_id, what="escort", lock=True, stations=escort_stations)
    ensure_escorting_station(uow, escort.escort_station_id)
    return escort


class RecordDeparture(Command):
    escort_id: uuid.UUID
    departure: Departure


async def record_departure(command: RecordDeparture, uow: UnitOfWork) -> EscortView:
    """The escort left (`escort_departed` for each person on board)."""
    escort = await _running_escort(uow, command.escort_id)
    if escort.status != EscortStatus.PLANNED.value:
        raise Conflict("Already departed", f"The escort is {escort.status}.")
    departed_at = not_future("departed_at", command.departure.departed_at, uow.now)
    escort.status = EscortStatus.DEPARTED.value
    escort.departed_at = departed_at
    for r in await statements.passengers(uow, escort.id):
        if r.status == ReturnStatus.PLANNED.value:
            r.status = ReturnStatus.IN_TRANSIT.value
            await uow.publish(
                EscortDepartedV1(
                    person_id=r.person_id,
                    escort_id=escort.id,
                    return_id=r.id,
                    departed_at=departed_at,
                )
            )
    return await escort_view(uow, escort)


class RecordLegArrival(Command):
    escort_id: uuid.UUID
    sequence: int
    arrival: Arrival


async def record_leg_arrival(command: RecordLegArrival, uow: UnitOfWork) -> EscortView:
    """The escort reached the end of a leg, the legs in their order
    (`escort_leg_completed` for each person on the way)."""
    escort = await _running_escort(uow, command.escort_id)
    if escort.status != EscortStatus.DEPARTED.value:
        raise Conflict("Not on the way", f"The escort is {escort.status}.")
    legs = await uow.find(EscortLeg, escort_id=escort.id, order_by=EscortLeg.sequence)
    leg = next((leg for leg in legs if leg.sequence == command.sequence), None)
    if leg is None:
        raise NotFound("leg", f"The escort has no leg {command.sequence}.")
    if leg.arrived_at is not None:
        raise Conflict(
            "Already arrived", f"Leg {command.sequence} arrived at {leg.arrived_at:%H:%M}."
        )
    earlier = [e.sequence for e in legs if e.sequence < leg.sequence and e.arrived_at is None]
    if earlier:
        raise Conflict("Leg not finished", f"Leg {earlier[0]} has not arrived yet.")
    leg.arrived_at = not_future("arrived_at", command.arrival.arrived_at, uow.now)
    for r in await statements.passengers(uow, escort.id):
        if r.status == ReturnStatus.IN_TRANSIT.value:
            await uow.publish(
                EscortLegCompletedV1(
                    person_id=r.person_id,
                    escort_id=escort.id,
                    return_id=r.id,
                    sequence=leg.sequence,
                    origin=leg.origin,
                    destination=leg.destination,
                    arrived_at=leg.arrived_at,
                )
            )
    return await escort_view(uow, escort)
