"""A case's tasks and their deadlines, written once for every part of search:
opening them with the case, completing one, cancelling the rest."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from rescue_chassis.commands import UnitOfWork
from search.domain import TaskKind, task_due_at
from search.tables import SearchTask


def first_deadlines(arrived_at: datetime) -> list[tuple[TaskKind, datetime]]:
    """The tasks every new case opens with, and when each is due."""
    return [(kind, task_due_at(kind, arrived_at)) for kind in TaskKind]


async def complete_task(
    session: AsyncSession, case_id: uuid.UUID, kind: TaskKind, at: datetime
) -> bool:
    """Mark the case's task done (once); True if this call completed it."""
    task = await session.scalar(
        select(SearchTask)
        .where(SearchTask.case_id == case_id, SearchTask.kind == kind.value)
        .with_for_update()
    )
    if task is None or task.status != "open":
        return False
    task.status = "done"
    task.done_at = at
    return True


async def cancel_open_tasks(uow: UnitOfWork, case_id: uuid.UUID) -> None:
    """The search ended (identified, or the person left): nothing is overdue any more."""
    for task in await uow.find(SearchTask, case_id=case_id, status="open", lock=True):
        task.status = "cancelled"
