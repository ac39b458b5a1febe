"""Help tasks opened by difficulties found on revisits, until someone closes them."""

from __future__ import annotations

import uuid

from pydantic import Field

from followup.commands.records import record_stations
from followup.tables import HelpTask, StabilisationRecord
from followup.views import HelpTaskView
from rescue_chassis.commands import Command, UnitOfWork, visible
from rescue_chassis.refusals import Conflict


class CompleteHelpTask(Command):
    task_id: uuid.UUID
    outcome: str = Field(min_length=1, max_length=2000, examples=["已纳入低保"])


async def complete_help_task(command: CompleteHelpTask, uow: UnitOfWork) -> HelpTaskView:
    task = await uow.get(HelpTask, command.task_id, lock=True)
    record = task and await uow.get(StabilisationRecord, task.record_id)
    visible(record, uow, "help task", record_stations)  # seen by whoever sees its record
    if task.status != "open":
        raise Conflict("Already done", "This help task is closed.")
    task.status = "done"
    task.closed_at = uow.now
    task.outcome = command.outcome
    return HelpTaskView.model_validate(task)
