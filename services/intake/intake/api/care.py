"""Care: in the station by default; outsourced care (站外托养) as the monitored
exception: who cares for the person, where, their health and the search's
progress, from the placement's monitoring visits."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

from fastapi import APIRouter, Query

from intake.care_rules import VISIT_INTERVAL
from intake.commands import care
from intake.commands.care import MonitoringVisit, OutsourcedCareEnd, OutsourcedCareStart
from intake.record_views import OutsourcedCareView, placements_of, station_placements
from intake.tables import Person
from rescue_chassis.access import STATION_WORK
from rescue_chassis.auth import PrincipalDep, require_roles
from rescue_chassis.commands import Run, UnitOfWork, load
from rescue_chassis.db import SessionDep
from rescue_chassis.runtime import RuntimeDep

router = APIRouter(tags=["care"], dependencies=[require_roles(*STATION_WORK)])


@router.post(
    "/persons/{person_id}/outsourced-care", status_code=201, response_model=OutsourcedCareView
)
async def start_outsourced_care(person_id: uuid.UUID, request: OutsourcedCareStart, run: Run):
    """Place a person who is in the station in outsourced care (409 otherwise)."""
    command = care.StartOutsourcedCare(person_id=person_id, start=request)
    return await run(care.start_outsourced_care, command)


@router.post(
    "/persons/{person_id}/outsourced-care/visits",
    status_code=201,
    response_model=OutsourcedCareView,
)
async def record_visit(person_id: uuid.UUID, visit: MonitoringVisit, run: Run):
    """Record a monitoring visit to the open placement; answers the placement, its
    health status now current."""
    command = care.RecordVisit(person_id=person_id, visit=visit)
    return await run(care.record_visit, command)


@router.post("/persons/{person_id}/outsourced-care/end", response_model=OutsourcedCareView)
async def end_outsourced_care(person_id: uuid.UUID, request: OutsourcedCareEnd, run: Run):
    """End the open placement: back in the station, or discharged (the stay ends too,
    with the same rules as `POST /persons/{id}/discharge`)."""
    command = care.EndOutsourcedCare(person_id=person_id, end=request)
    return await run(care.end_outsourced_care, command)


@router.get("/persons/{person_id}/outsourced-care", response_model=list[OutsourcedCareView])
async def person_outsourced_care(
    person_id: uuid.UUID, principal: PrincipalDep, session: SessionDep, runtime: RuntimeDep
):
    """The person's placements (every stay), latest first, with their visits."""
    person = await load(session, runtime, principal, Person, person_id, what="person")
    return await placements_of(session, person, datetime.now(UTC))


@router.get("/station/outsourced-care", response_model=list[OutsourcedCareView])
async def station_outsourced_care(
    principal: PrincipalDep,
    session: SessionDep,
    runtime: RuntimeDep,
    overdue: bool | None = Query(
        default=None,
        description=f"Only placements not visited for {VISIT_INTERVAL.days} days (or only "
        "those visited in time).",
    ),
    station_id: str | None = Query(default=None, description="The center may look at any."),
):
    """The station's open placements, longest without a visit first, each with the
    days since its last visit and whether a visit is overdue."""
    reading = UnitOfWork(session, runtime, principal)
    return await station_placements(reading, station_id, overdue)
