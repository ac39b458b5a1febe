"""Escorts: the station plans a trip home for one or several persons, then runs it."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Query

from rescue_chassis.access import STATION_WORK
from rescue_chassis.auth import PrincipalDep, require_roles
from rescue_chassis.commands import Run, UnitOfWork
from rescue_chassis.db import SessionDep
from rescue_chassis.runtime import RuntimeDep
from transfer import queries
from transfer.commands import escorts
from transfer.commands.escorts import Arrival, Departure, EscortPlan
from transfer.domain import EscortStatus
from transfer.views import EscortView

router = APIRouter(prefix="/escorts", tags=["escorts"], dependencies=[require_roles(*STATION_WORK)])


@router.post("", status_code=201, response_model=EscortView)
async def plan_escort(plan: EscortPlan, run: Run):
    """Plan one escort for one or several pending returns to the same province
    (`escort_planned` for each person)."""
    return await run(escorts.plan_escort, escorts.PlanEscort(plan=plan), location="/escorts/{id}")


@router.get("", response_model=list[EscortView])
async def list_escorts(
    principal: PrincipalDep,
    session: SessionDep,
    runtime: RuntimeDep,
    status: EscortStatus | None = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
):
    return await queries.escorts(UnitOfWork(session, runtime, principal), status, limit)


@router.get("/{escort_id}", response_model=EscortView)
async def get_escort(
    escort_id: uuid.UUID, principal: PrincipalDep, session: SessionDep, runtime: RuntimeDep
):
    return await queries.escort(UnitOfWork(session, runtime, principal), escort_id)


@router.post("/{escort_id}/departure", response_model=EscortView)
async def record_departure(escort_id: uuid.UUID, departure: Departure, run: Run):
    """The escort left (`escort_departed` for each person on board)."""
    return await run(
        escorts.record_departure,
        escorts.RecordDeparture(escort_id=escort_id, departure=departure),
    )


@router.post("/{escort_id}/legs/{sequence}/arrival", response_model=EscortView)
async def record_leg_arrival(escort_id: uuid.UUID, sequence: int, arrival: Arrival, run: Run):
    """The escort reached the end of a leg (`escort_leg_completed` for each person)."""
    return await run(
        escorts.record_leg_arrival,
        escorts.RecordLegArrival(escort_id=escort_id, sequence=sequence, arrival=arrival),
    )
