"""Search's deadline sweep: a task past its deadline raises search_task_overdue
once. The deadline and the "already raised" marker live on the task row, so a
deadline that passed while the service was down is reported once after restart,
and replicas sweeping together never raise it twice (SKIP LOCKED)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from rescue_chassis.periodic import PeriodicJob
from rescue_chassis.runtime import Runtime
from rescue_events.contracts.search_tasks import SearchTaskOverdueV1
from search import notices
from search.tables import SearchCase, SearchTask

BATCH = 500


def jobs(runtime: Runtime) -> list[PeriodicJob]:
    async def deadlines(session: AsyncSession, now: datetime) -> int:
        return await raise_overdue_tasks(session, runtime, now)

    return [PeriodicJob("search-deadlines", deadlines), *notices.jobs(runtime)]


async def raise_overdue_tasks(session: AsyncSession, runtime: Runtime, now: datetime) -> int:
    late = (
        await session.execute(
            select(SearchTask, SearchCase.person_id)
            .join(SearchCase, SearchCase.id == SearchTask.case_id)
            .where(
                SearchTask.status == "open",
                SearchTask.due_at < now,
                SearchTask.overdue_at.is_(None),
            )
            .order_by(SearchTask.due_at)
            .limit(BATCH)
            .with_for_update(of=SearchTask, skip_locked=True)
        )
    ).all()
    for task, person_id in late:
        task.overdue_at = now
        await runtime.outbox.stage(
            session,
            SearchTaskOverdueV1(
                person_id=person_id,
                case_id=task.case_id,
                task_id=task.id,
                station_id=task.station_id,
                kind=task.kind,
                due_at=task.due_at,
                noticed_at=now,
            ),
        )
    return len(late)
