"""What is overdue now: missed revisits of the caller's station (the center: all; a
town official: its town or village)."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Query

from followup import queries
from followup.views import OverdueRevisitView
from rescue_chassis.access import REVISIT_WORK
from rescue_chassis.auth import PrincipalDep, require_roles
from rescue_chassis.commands import UnitOfWork
from rescue_chassis.db import SessionDep
from rescue_chassis.runtime import RuntimeDep

router = APIRouter(
    prefix="/revisits", tags=["return stabilisation"], dependencies=[require_roles(*REVISIT_WORK)]
)


@router.get("/overdue", response_model=list[OverdueRevisitView])
async def overdue_revisits(
    principal: PrincipalDep,
    session: SessionDep,
    runtime: RuntimeDep,
    level: Literal["overdue", "escalated"] | None = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 200,
):
    reading = UnitOfWork(session, runtime, principal)
    return await queries.overdue_revisits(reading, level, limit)
