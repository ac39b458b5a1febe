"""Escalations of refused returns, tracked until the higher level resolves them."""

from __future__ import annotations

import uuid
from typing import Literal

from fastapi import APIRouter

from rescue_chassis.access import STATION_WORK
from rescue_chassis.auth import PrincipalDep, require_roles
from rescue_chassis.commands import Run, UnitOfWork
from rescue_chassis.db import SessionDep
from rescue_chassis.runtime import RuntimeDep
from transfer import queries
from transfer.commands import escalations
from transfer.commands.escalations import Resolution
from transfer.views import EscalationView

router = APIRouter(
    prefix="/escalations", tags=["escalations"], dependencies=[require_roles(*STATION_WORK)]
)


@router.get("", response_model=list[EscalationView])
async def list_escalations(
    principal: PrincipalDep,
    session: SessionDep,
    runtime: RuntimeDep,
    status: Literal["open", "resolved"] | None = None,
):
    return await queries.escalations(UnitOfWork(session, runtime, principal), status)


@router.post("/{escalation_id}/resolution", response_model=EscalationView)
async def resolve_escalation(escalation_id: uuid.UUID, resolution: Resolution, run: Run):
    """The higher level's answer to a refusal (`escalation_resolved`)."""
    return await run(
        escalations.resolve_escalation,
        escalations.ResolveEscalation(escalation_id=escalation_id, resolution=resolution),
    )
