"""Help tasks opened by difficulties found on revisits, until someone closes them."""

from __future__ import annotations

import uuid
from typing import Literal

from fastapi import APIRouter
from pydantic import BaseModel, ConfigDict, Field

from followup import queries
from followup.commands import help_tasks
from followup.views import HelpTaskView
from rescue_chassis.access import STATION_WORK
from rescue_chassis.auth import PrincipalDep, require_roles
from rescue_chassis.commands import Run, UnitOfWork
from rescue_chassis.db import SessionDep
from rescue_chassis.runtime import RuntimeDep

router = APIRouter(
    prefix="/help-tasks", tags=["return stabilisation"], dependencies=[require_roles(*STATION_WORK)]
)


class Completion(BaseModel):
    model_config = ConfigDict(extra="forbid")

    outcome: str = Field(min_length=1, max_length=2000, examples=["已纳入低保"])


@router.get("", response_model=list[HelpTaskView])
async def list_help_tasks(
    principal: PrincipalDep,
    session: SessionDep,
    runtime: RuntimeDep,
    status: Literal["open", "done"] | None = "open",
):
    return await queries.help_tasks(UnitOfWork(session, runtime, principal), status)


@router.post("/{task_id}/completion", response_model=HelpTaskView)
async def complete_help_task(task_id: uuid.UUID, completion: Completion, run: Run):
    """Close a help task with what was done."""
    return await run(
        help_tasks.complete_help_task,
        help_tasks.CompleteHelpTask(task_id=task_id, outcome=completion.outcome),
    )
