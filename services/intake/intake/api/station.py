"""Station views: who is in my station now, a person's timeline, and the counts
for the periodic summary table (情况汇总表)."""

from __future__ import annotations

import uuid
from typing import Annotated, Literal

from fastapi import APIRouter, Query

from intake.station_views import (
    SummaryRow,
    TimelineEntry,
    persons_in_station,
    summary_rows,
    timeline_of,
)
from intake.tables import Person
from intake.views import PersonView
from rescue_chassis.access import STATION_WORK
from rescue_chassis.auth import PrincipalDep, require_roles
from rescue_chassis.commands import UnitOfWork, load
from rescue_chassis.db import SessionDep
from rescue_chassis.moments import PeriodDay, ensure_period
from rescue_chassis.runtime import RuntimeDep
from rescue_events.contracts import IdentityStatus, PersonCategory

router = APIRouter(tags=["station views"], dependencies=[require_roles(*STATION_WORK)])

MinDays = Annotated[int | None, Query(ge=0, le=36500, description="In station at least this long.")]


@router.get("/station/persons", response_model=list[PersonView])
async def in_my_station(
    principal: PrincipalDep,
    session: SessionDep,
    runtime: RuntimeDep,
    status: Literal["in_station", "missing"] | None = None,
    category: PersonCategory | None = None,
    identity_status: IdentityStatus | None = None,
    min_days: MinDays = None,
    station_id: str | None = Query(default=None, description="The center may look at any."),
):
    """Who is in the station now (or missing from it), longest stay first."""
    reading = UnitOfWork(session, runtime, principal)
    return await persons_in_station(
        reading, station_id, status, category, identity_status, min_days
    )


@router.get("/persons/{person_id}/timeline", response_model=list[TimelineEntry])
async def timeline(
    person_id: uuid.UUID, principal: PrincipalDep, session: SessionDep, runtime: RuntimeDep
):
    """Everything that happened to the person in the network, in order."""
    person = await load(session, runtime, principal, Person, person_id, what="person")
    return await timeline_of(session, person)


@router.get("/station/summary", response_model=list[SummaryRow])
async def summary(
    principal: PrincipalDep,
    session: SessionDep,
    runtime: RuntimeDep,
    period_start: PeriodDay,
    period_end: PeriodDay,
):
    """Counts per station for the period (calendar days, inclusive): the caller's
    station, or every station for the center."""
    ensure_period(period_start, period_end)
    reading = UnitOfWork(session, runtime, principal)
    return await summary_rows(reading, period_start, period_end)
