"""The station's reads: who is in it now, a person's timeline, and the counts of
the periodic summary table (情况汇总表)."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from pydantic import BaseModel, Field
from sqlalchemy import func, select

from intake.tables import Incident, Person, Stay
from intake.views import PersonView, person_views
from rescue_chassis.access import ensure_known_station, sees_network, viewed_station
from rescue_chassis.commands import UnitOfWork
from rescue_events.contracts import IdentityStatus, PersonCategory

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


async def persons_in_station(
    uow: UnitOfWork,
    station_id: str | None,
    status: str | None,
    category: PersonCategory | None,
    identity_status: IdentityStatus | None,
    min_days: int | None,
) -> list[PersonView]:
    """Who is in the station now (or missing from it), longest stay first: the
    caller's station, or ``station_id`` for the center; ``min_days``: there at least
    this long."""
    ensure_known_station(uow.actor, uow.network)
    station = viewed_station(uow.actor, uow.network, station_id)
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
        query = query.where(Stay.arrived_at <= uow.now - timedelta(days=min_days))
    return await person_views(uow.session, (await uow.session.scalars(query)).all())


def _stay_entries(stay: Stay) -> list[TimelineEntry]:
    entries = [
        TimelineEntry(
            at=stay.arrived_at,
            what="arrived",
            station_id=stay.station_id,
            detail=stay.arrival_route.replace("_", " "),
        ),
        TimelineEntry(
            at=stay.admitted_at,
            what="admitted",
            station_id=stay.station_id,
            detail=f"stay {stay.sequence}",
        ),
    ]
    if stay.long_stay_reached_at:
        entries.append(
            TimelineEntry(
                at=stay.long_stay_reached_at, what="long stay reached", station_id=stay.station_id
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
    return entries


async def timeline_of(session, person: Person) -> list[TimelineEntry]:
    """Everything that happened to the person in the network, in order."""
    entries: list[TimelineEntry] = []
    for stay in (await session.scalars(select(Stay).where(Stay.person_id == person.id))).all():
        entries.extend(_stay_entries(stay))
    incidents = await session.scalars(select(Incident).where(Incident.person_id == person.id))
    entries.extend(
        TimelineEntry(
            at=incident.occurred_at,
            what=f"incident: {incident.kind}",
            station_id=incident.station_id,
            detail=incident.description,
        )
        for incident in incidents.all()
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


async def summary_rows(uow: UnitOfWork, period_start: date, period_end: date) -> list[SummaryRow]:
    """Counts per station for the period (calendar days in China, inclusive): the
    caller's station, or every station for the center."""
    every = sees_network(uow.actor, uow.network)
    stations = sorted(uow.network.stations) if every else [uow.actor.station_id]
    start = datetime.combine(period_start, time.min, CHINA)
    end = datetime.combine(period_end + timedelta(days=1), time.min, CHINA)
    return [await _summary_row(uow.session, station, start, end) for station in stations]


async def _summary_row(session, station: str, start: datetime, end: datetime) -> SummaryRow:
    async def count(*where, query=None) -> int:
        query = select(func.count()) if query is None else query
        return await session.scalar(query.where(*where)) or 0

    async def by(column, *where) -> dict[str, int]:
        rows = await session.execute(select(column, func.count()).where(*where).group_by(column))
        return dict(rows.all())

    in_period = Stay.station_id == station
    admitted = (Stay.admitted_at >= start) & (Stay.admitted_at < end) & in_period
    open_at_end = (
        in_period
        & (Stay.admitted_at < end)
        & ((Stay.discharged_at.is_(None)) | (Stay.discharged_at >= end))
    )
    return SummaryRow(
        station_id=station,
        admissions=await count(admitted),
        readmissions=await count(admitted, Stay.sequence > 1),
        discharges=await by(
            Stay.discharge_reason, in_period, Stay.discharged_at >= start, Stay.discharged_at < end
        ),
        identified=await count(
            Person.station_id == station,
            Person.identity_confirmed_at >= start,
            Person.identity_confirmed_at < end,
        ),
        in_station_at_end=await count(open_at_end),
        long_stay=await count(
            in_period,
            Stay.discharged_at.is_(None),
            Stay.long_stay_reached_at.is_not(None),
            Person.identity_status == IdentityStatus.UNKNOWN.value,
            query=select(func.count())
            .select_from(Stay)
            .join(Person, Person.current_stay_id == Stay.id),
        ),
        incidents=await by(
            Incident.kind,
            Incident.station_id == station,
            Incident.occurred_at >= start,
            Incident.occurred_at < end,
        ),
    )
