"""Help tasks opened by difficulties found on revisits, until someone closes them."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Literal

from fastapi import APIRouter
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import select

from followup.api.common import load_record, scoped
from followup.tables import HelpTask, StabilisationRecord
from followup.views import HelpTaskView
from rescue_chassis.access import STATION_WORK
from rescue_chassis.auth import PrincipalDep, require_roles
from rescue_chassis.db import SessionDep
from rescue_chassis.problems import Problem
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
    query = scoped(
        select(HelpTask)
        .join(StabilisationRecord, StabilisationRecord.id == HelpTask.record_id)
        .order_by(HelpTask.opened_at),
        principal,
        runtime,
    )
    if status:
        query = query.where(HelpTask.status == status)
    return [HelpTaskView.model_validate(t) for t in (await session.scalars(query)).all()]


@router.post("/{task_id}/completion", response_model=HelpTaskView)
async def complete_help_task(
    task_id: uuid.UUID,
    completion: Completion,
    principal: PrincipalDep,
    session: SessionDep,
    runtime: RuntimeDep,
):
    task = await session.get(HelpTask, task_id, with_for_update=True)
    if task is None:
        raise Problem(404, "Not found", "No such help task.")
    await load_record(session, runtime, principal, task.record_id)
    if task.status != "open":
        raise Problem(409, "Already done", "This help task is closed.")
    task.status = "done"
    task.closed_at = datetime.now(UTC)
    task.outcome = completion.outcome
    result = HelpTaskView.model_validate(task)
    await session.commit()
    return result
