"""A case's tasks and their deadlines, written once for every part of search:
opening them with the case, completing one, closing those that can no longer be
done (with the reason), reopening them when the person is back."""

from __future__ import annotations

import uuid
from collections.abc import Iterable
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


async def cancel_open_tasks(
    uow: UnitOfWork,
    case_id: uuid.UUID,
    reason: str = "identified",
    kinds: Iterable[TaskKind] | None = None,
) -> list[SearchTask]:
    """Tasks that can no longer be done (identified, protected, the person gone)
    close with the reason, so nothing stays overdue for ever; ``kinds``: only these."""
    wanted = None if kinds is None else {k.value for k in kinds}
    closed = []
    for task in await uow.find(SearchTask, case_id=case_id, status="open", lock=True):
        if wanted is not None and task.kind not in wanted:
            continue
        task.status = "cancelled"
        task.closed_reason = reason
        closed.append(task)
    return closed


async def reopen_tasks(
    uow: UnitOfWork, case_id: uuid.UUID, reasons: Iterable[str], station_id: str
) -> list[SearchTask]:
    """Tasks closed for these reasons are possible again (the person is back): open
    at ``station_id`` with their first deadline (the clock does not restart)."""
    reasons = set(reasons)
    reopened = []
    for task in await uow.find(SearchTask, case_id=case_id, status="cancelled", lock=True):
        if task.closed_reason in reasons:
            task.status = "open"
            task.closed_reason = None
            task.station_id = station_id
            reopened.append(task)
    return reopened
