"""Search's deadline sweep: a task past its deadline raises search_task_overdue
once. The deadline and the "already raised" marker live on the task row, so a
deadline that passed while the service was down is reported once after restart,
and replicas sweeping together never raise it twice (SKIP LOCKED)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from rescue_chassis.commands import UnitOfWork
from rescue_chassis.periodic import PeriodicJob
from rescue_chassis.runtime import Runtime
from search import notices
from search.commands.cases import RaiseOverdueTasks, raise_overdue_tasks

BATCH = 500


def jobs(runtime: Runtime) -> list[PeriodicJob]:
    async def deadlines(session: AsyncSession, now: datetime) -> int:
        uow = UnitOfWork(session, runtime, now=now)
        return await raise_overdue_tasks(RaiseOverdueTasks(batch=BATCH), uow)

    return [PeriodicJob("search-deadlines", deadlines), *notices.jobs(runtime)]
