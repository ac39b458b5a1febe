"""The revisit deadline sweep: a missed revisit becomes overdue, then escalates.

Each level is raised once: the revisit row remembers it (``overdue_at``,
``escalated_at``) in the same transaction that stages the event, and rows are
locked with SKIP LOCKED so replicas sweeping together never raise it twice.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from followup.domain import (
    CHINA,
    ESCALATE_AFTER,
    ESCALATED_TO,
    RecordStatus,
    RevisitStatus,
    overdue_level,
)
from followup.tables import Revisit, StabilisationRecord
from rescue_chassis.commands import UnitOfWork
from rescue_chassis.periodic import PeriodicJob
from rescue_chassis.runtime import Runtime
from rescue_events.contracts import RevisitOverdueV1

BATCH = 500


def jobs(runtime: Runtime) -> list[PeriodicJob]:
    async def sweep(session: AsyncSession, now: datetime) -> int:
        return await mark_overdue_revisits(session, runtime, now)

    return [PeriodicJob("revisit-deadlines", sweep)]


async def mark_overdue_revisits(session: AsyncSession, runtime: Runtime, now: datetime) -> int:
    today = now.astimezone(CHINA).date()
    due = (
        select(Revisit, StabilisationRecord)
        .join(StabilisationRecord, StabilisationRecord.id == Revisit.record_id)
        .where(
            StabilisationRecord.status == RecordStatus.ACTIVE.value,
            Revisit.due_on < today,
            or_(
                Revisit.status == RevisitStatus.SCHEDULED.value,
                (Revisit.status == RevisitStatus.OVERDUE.value)
                & Revisit.escalated_at.is_(None)
                & (Revisit.due_on < today - ESCALATE_AFTER),
            ),
        )
        .order_by(Revisit.due_on)
        .limit(BATCH)
        .with_for_update(of=Revisit, skip_locked=True)
    )
    uow = UnitOfWork(session, runtime, now=now)
    changed = 0
    for revisit, record in (await session.execute(due)).all():
        level = overdue_level(revisit.due_on, today)
        if revisit.overdue_at is None:
            revisit.status = RevisitStatus.OVERDUE.value
            revisit.overdue_at = now
            await _raise(uow, revisit, record, "overdue")
        if level == "escalated" and revisit.escalated_at is None:
            revisit.escalated_at = now
            await _raise(uow, revisit, record, "escalated")
        changed += 1
    return changed


async def _raise(uow: UnitOfWork, revisit: Revisit, record, level: str) -> None:
    await uow.publish(
        RevisitOverdueV1(
            person_id=record.person_id,
            record_id=record.id,
            sequence=revisit.sequence,
            due_on=revisit.due_on,
            station_id=record.station_id,
            jurisdiction_code=revisit.assigned_to,
            level=level,
            escalated_to=ESCALATED_TO[level],
        )
    )
