"""The long-stay timer: a person still unidentified LONG_STAY after arrival raises
long_stay_reached once. The deadline is computed from the stay's arrival in the
database, so restarts and replicas neither lose nor repeat it."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from intake.domain import LONG_STAY
from intake.tables import Person, Stay
from rescue_chassis.commands import UnitOfWork
from rescue_chassis.periodic import PeriodicJob
from rescue_chassis.runtime import Runtime
from rescue_events.contracts import IdentityStatus, LongStayReachedV1

BATCH = 500


def jobs(runtime: Runtime) -> list[PeriodicJob]:
    async def long_stays(session: AsyncSession, now: datetime) -> int:
        return await mark_long_stays(UnitOfWork(session, runtime, now=now))

    return [PeriodicJob("long-stay", long_stays)]


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
