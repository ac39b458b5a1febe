"""Search's deadline sweep: a task past its deadline raises search_task_overdue
once and goes on the center's escalation list in the same transaction. The
deadline and the "already raised" marker live on the task row, so a deadline
that passed while the service was down is reported once after restart, and
replicas sweeping together never raise it twice (SKIP LOCKED)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from rescue_chassis.commands import UnitOfWork
from rescue_chassis.periodic import PeriodicJob
from rescue_chassis.runtime import Runtime
from search import notices
from search.commands.cases import RaiseOverdueTasks, raise_overdue_tasks
from search.commands.escalations import EscalateOverdueTasks, escalate_overdue_tasks

BATCH = 500


def jobs(runtime: Runtime) -> list[PeriodicJob]:
    async def deadlines(session: AsyncSession, now: datetime) -> int:
        uow = UnitOfWork(session, runtime, now=now)
        raised = await raise_overdue_tasks(RaiseOverdueTasks(batch=BATCH), uow)
        if not raised:
            return 0
        # recorded here, not by consuming our own search_task_overdue: one transaction
        return raised + await escalate_overdue_tasks(EscalateOverdueTasks(raised_at=now), uow)

    return [PeriodicJob("search-deadlines", deadlines), *notices.jobs(runtime)]
