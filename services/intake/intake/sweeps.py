"""Intake's timers, each raised once from the database's own dates, so restarts and
replicas neither lose nor repeat them:

- the long stay: a person still unidentified LONG_STAY after arrival raises
  long_stay_reached;
- the long hospital stay: a hospital placement open longer than the setting's
  days (30 by default) raises long_hospital_stay_reached."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from intake.domain import LONG_STAY
from intake.tables import Person, Stay
from intake.tables.arrivals import HospitalPlacement
from rescue_chassis.commands import UnitOfWork
from rescue_chassis.periodic import PeriodicJob
from rescue_chassis.runtime import Runtime
from rescue_events.contracts import IdentityStatus, LongStayReachedV1
from rescue_events.contracts.intake_arrivals import LongHospitalStayReachedV1

BATCH = 500
DEFAULT_LONG_HOSPITAL_STAY_DAYS = 30


def jobs(runtime: Runtime) -> list[PeriodicJob]:
    async def long_stays(session: AsyncSession, now: datetime) -> int:
        return await mark_long_stays(UnitOfWork(session, runtime, now=now))

    async def hospital_stay_long(session: AsyncSession, now: datetime) -> int:
        return await mark_long_hospital_stays(UnitOfWork(session, runtime, now=now))

    return [
        PeriodicJob("long-stay", long_stays),
        PeriodicJob("hospital-stay-long", hospital_stay_long),
    ]


async def long_stay_candidates(uow: UnitOfWork) -> list[tuple[Stay, Person]]:
    """Open stays of unidentified persons past LONG_STAY, not marked yet, locked
    (those another replica holds are skipped)."""
    rows = await uow.session.execute(
        select(Stay, Person)
        .join(Person, Person.current_stay_id == Stay.id)
        .where(
            Stay.discharged_at.is_(None),
            Stay.long_stay_reached_at.is_(None),
            Person.identity_status == IdentityStatus.UNKNOWN.value,
            Stay.arrived_at <= uow.now - LONG_STAY,
        )
        .limit(BATCH)
        .with_for_update(of=Stay, skip_locked=True)
    )
    return [(stay, person) for stay, person in rows.all()]


async def mark_long_stays(uow: UnitOfWork) -> int:
    """Mark each candidate stay a long stay and say so; how many were marked."""
    candidates = await long_stay_candidates(uow)
    for stay, person in candidates:
        stay.long_stay_reached_at = uow.now
        await uow.publish(
            LongStayReachedV1(
                person_id=person.id,
                stay_id=stay.id,
                station_id=stay.station_id,
                arrived_at=stay.arrived_at,
                reached_at=uow.now,
            )
        )
    return len(candidates)


def long_hospital_stay_days(uow: UnitOfWork) -> int:
    """The setting (a unit test's fake unit of work may have no settings)."""
    days = getattr(uow.settings, "long_hospital_stay_days", None)
    return days if isinstance(days, int) else DEFAULT_LONG_HOSPITAL_STAY_DAYS


async def long_hospital_stay_candidates(uow: UnitOfWork, days: int) -> list[HospitalPlacement]:
    """Open placements older than ``days``, not marked yet, locked (those another
    replica holds are skipped)."""
    found = await uow.session.scalars(
        select(HospitalPlacement)
        .where(
            HospitalPlacement.status == "open",
            HospitalPlacement.long_stay_reached_at.is_(None),
            HospitalPlacement.placed_at <= uow.now - timedelta(days=days),
        )
        .order_by(HospitalPlacement.placed_at)
        .limit(BATCH)
        .with_for_update(skip_locked=True)
    )
    return list(found.all())


async def mark_long_hospital_stays(uow: UnitOfWork) -> int:
    """Mark each placement open too long and say so once; how many were marked."""
    days = long_hospital_stay_days(uow)
    placements = await long_hospital_stay_candidates(uow, days)
    for placement in placements:
        placement.long_stay_reached_at = uow.now
        await uow.publish(
            LongHospitalStayReachedV1(
                person_id=placement.person_id,
                placement_id=placement.id,
                station_id=placement.station_id,
                hospital=placement.hospital,
                placed_at=placement.placed_at,
                reached_at=uow.now,
                days=days,
            )
        )
    return len(placements)
