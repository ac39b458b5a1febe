"""Station views: who is in my station now, a person's timeline, and the counts
for the periodic summary table (情况汇总表)."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, time, timedelta
from typing import Annotated, Literal
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Query
from pydantic import BaseModel, Field
from sqlalchemy import func, select

from intake.api.persons import load_person
from intake.tables import Incident, Person, Stay
from intake.views import PersonView, person_view
from rescue_chassis.access import (
    STATION_WORK,
    ensure_known_station,
    sees_network,
    viewed_station,
)
from rescue_chassis.auth import PrincipalDep, require_roles
from rescue_chassis.db import SessionDep
from rescue_chassis.moments import PeriodDay, ensure_period
from rescue_chassis.runtime import RuntimeDep
from rescue_events.contracts import IdentityStatus, PersonCategory

router = APIRouter(tags=["station views"], dependencies=[require_roles(*STATION_WORK)])
CHINA = ZoneInfo("Asia/Shanghai")  # the stations' calendar days


class TimelineEntry(BaseModel):
    at: datetime
    what: str = Field(examples=["admitted", "incident: missing", "discharged: returned_home"])
    station_id: str
    detail: str | None = None


class SummaryRow(BaseModel):
    station_id: str
    admissions: int
    readmissions: int = Field(description="Admissions of persons who had an earlier stay.")
    discharges: dict[str, int] = Field(description="By reason.")
    identified: int = Field(description="Identities confirmed in the period.")
    in_station_at_end: int
    long_stay: int = Field(description="Unidentified persons in station 3 months or more.")
    incidents: dict[str, int] = Field(description="By kind.")


@router.get("/station/persons", response_model=list[PersonView])
async def in_my_station(
    principal: PrincipalDep,
    session: SessionDep,
    runtime: RuntimeDep,
    status: Literal["in_station", "missing"] | None = None,
    category: PersonCategory | None = None,
    identity_status: IdentityStatus | None = None,
    min_days: Annotated[
        int | None, Query(ge=0, le=36500, description="In station at least this long.")
    ] = None,
    station_id: str | None = Query(default=None, description="The center may look at any."),
):
    """Who is in the station now (or missing from it), longest stay first."""
    ensure_known_station(principal, runtime.network)
    station = viewed_station(principal, runtime.network, station_id)
    query = (
        select(Person)
        .join(Stay, Stay.id == Person.current_stay_id)
        .where(Person.station_id == station, Stay.discharged_at.is_(None))
        .order_by(Stay.arrived_at)
    )
    if status:
        query = query.where(Person.status == status)
    if category:
        query = query.where(Person.categories.any(category.value))
    if identity_status:
        query = query.where(Person.identity_status == identity_status.value)
    if min_days is not None:
        query = query.where(Stay.arrived_at <= datetime.now(UTC) - timedelta(days=min_days))
    return [await person_view(session, p) for p in (await session.scalars(query)).all()]


@router.get("/persons/{person_id}/timeline", response_model=list[TimelineEntry])
async def timeline(
    person_id: uuid.UUID, principal: PrincipalDep, session: SessionDep, runtime: RuntimeDep
):
    """Everything that happened to the person in the network, in order."""
    person = await load_person(session, runtime, principal, person_id)
    entries: list[TimelineEntry] = []
    for stay in (await session.scalars(select(Stay).where(Stay.person_id == person.id))).all():
        route = stay.arrival_route.replace("_", " ")
        entries.append(
            TimelineEntry(
                at=stay.arrived_at, what="arrived", station_id=stay.station_id, detail=route
            )
        )
        entries.append(
            TimelineEntry(
                at=stay.admitted_at,
                what="admitted",
                station_id=stay.station_id,
                detail=f"stay {stay.sequence}",
            )
        )
        if stay.long_stay_reached_at:
            entries.append(
                TimelineEntry(
                    at=stay.long_stay_reached_at,
                    what="long stay reached",
                    station_id=stay.station_id,
                )
            )
        if stay.discharged_at:
            entries.append(
                TimelineEntry(
                    at=stay.discharged_at,
                    what=f"discharged: {stay.discharge_reason}",
                    station_id=stay.station_id,
                    detail=stay.discharge_note,
                )
            )
    for incident in (
        await session.scalars(select(Incident).where(Incident.person_id == person.id))
    ).all():
        entries.append(
            TimelineEntry(
                at=incident.occurred_at,
                what=f"incident: {incident.kind}",
                station_id=incident.station_id,
                detail=incident.description,
            )
        )
    if person.identity_confirmed_at:
        entries.append(
            TimelineEntry(
                at=person.identity_confirmed_at,
                what="identity confirmed",
                station_id=person.station_id,
                detail=person.full_name,
            )
        )
    return sorted(entries, key=lambda e: e.at)


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
    start = datetime.combine(period_start, time.min, CHINA)
    end = datetime.combine(period_end + timedelta(days=1), time.min, CHINA)
    stations = (
        sorted(runtime.network.stations)
        if sees_network(principal, runtime.network)
        else [principal.station_id]
    )
    rows = []
    for station in stations:
        in_period = Stay.station_id == station

        async def count(query) -> int:
            return await session.scalar(query) or 0

        admitted = (Stay.admitted_at >= start) & (Stay.admitted_at < end) & in_period
        discharges = dict(
            (
                await session.execute(
                    select(Stay.discharge_reason, func.count())
                    .where(in_period, Stay.discharged_at >= start, Stay.discharged_at < end)
                    .group_by(Stay.discharge_reason)
                )
            ).all()
        )
        incidents = dict(
            (
                await session.execute(
                    select(Incident.kind, func.count())
                    .where(
                        Incident.station_id == station,
                        Incident.occurred_at >= start,
                        Incident.occurred_at < end,
                    )
                    .group_by(Incident.kind)
                )
            ).all()
        )
        open_at_end = (
            in_period
            & (Stay.admitted_at < end)
            & ((Stay.discharged_at.is_(None)) | (Stay.discharged_at >= end))
        )
        rows.append(
            SummaryRow(
                station_id=station,
                admissions=await count(select(func.count()).where(admitted)),
                readmissions=await count(select(func.count()).where(admitted, Stay.sequence > 1)),
                discharges=discharges,
                identified=await count(
                    select(func.count()).where(
                        Person.station_id == station,
                        Person.identity_confirmed_at >= start,
                        Person.identity_confirmed_at < end,
                    )
                ),
                in_station_at_end=await count(select(func.count()).where(open_at_end)),
                long_stay=await count(
                    select(func.count())
                    .select_from(Stay)
                    .join(Person, Person.current_stay_id == Stay.id)
                    .where(
                        in_period,
                        Stay.discharged_at.is_(None),
                        Stay.long_stay_reached_at.is_not(None),
                        Person.identity_status == IdentityStatus.UNKNOWN.value,
                    )
                ),
                incidents=incidents,
            )
        )
    return rows
