"""Refusals of help (劝导记录): recorded with the advice given, no admission
(commands/refusals.py)."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Query

from intake import queries
from intake.commands import refusals
from intake.commands.refusals import RecordRefusal, RefusalRecord
from intake.tables import Refusal
from intake.views import RefusalView
from rescue_chassis.access import STATION_WORK
from rescue_chassis.auth import PrincipalDep, require_roles
from rescue_chassis.commands import Run, UnitOfWork, load
from rescue_chassis.db import SessionDep
from rescue_chassis.runtime import RuntimeDep

router = APIRouter(
    prefix="/refusals", tags=["refusals"], dependencies=[require_roles(*STATION_WORK)]
)


@router.post("", status_code=201, response_model=RefusalView)
async def record_refusal(record: RefusalRecord, run: Run):
    """Record a refusal of help with the advice given; help_refused goes out."""
    command = RecordRefusal(**dict(record))
    return await run(refusals.record_refusal, command, location="/refusals/{id}")


@router.get("", response_model=list[RefusalView])
async def list_refusals(
    principal: PrincipalDep,
    session: SessionDep,
    runtime: RuntimeDep,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
):
    """The caller's station's refusals (the center sees the network), newest first."""
    return await queries.refusals(UnitOfWork(session, runtime, principal), limit)


@router.get("/{refusal_id}", response_model=RefusalView)
async def get_refusal(
    refusal_id: uuid.UUID, principal: PrincipalDep, session: SessionDep, runtime: RuntimeDep
):
    refusal = await load(session, runtime, principal, Refusal, refusal_id, what="refusal")
    return RefusalView.model_validate(refusal)
