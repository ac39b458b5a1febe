"""The center's escalation list (督办): missed search deadlines and long stays, and
the center coordinator's acknowledgement."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Query

from rescue_chassis.access import SEARCH_WORK
from rescue_chassis.auth import PrincipalDep, Role, require_roles
from rescue_chassis.commands import Run, UnitOfWork
from rescue_chassis.db import SessionDep
from rescue_chassis.runtime import RuntimeDep
from search.commands import escalations
from search.commands.escalations import AcknowledgeEscalation, Acknowledgement, EscalationView

router = APIRouter(prefix="/escalations", tags=["escalations"])

KINDS = "^(notice_overdue|police_check_overdue|dna_overdue|long_stay|long_hospital_stay)$"


@router.get("", response_model=list[EscalationView], dependencies=[require_roles(*SEARCH_WORK)])
async def list_escalations(
    principal: PrincipalDep,
    session: SessionDep,
    runtime: RuntimeDep,
    status: Annotated[str | None, Query(pattern="^(open|acknowledged)$")] = None,
    kind: Annotated[str | None, Query(pattern=KINDS)] = None,
    station_id: Annotated[str | None, Query(max_length=64)] = None,
    person_id: uuid.UUID | None = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
):
    """Missed deadlines and long stays, oldest first: the center sees every station's
    (`station_id` narrows it), a station its own."""
    reading = UnitOfWork(session, runtime, principal)
    return await escalations.escalation_list(
        reading,
        status=status,
        kind=kind,
        station_id=station_id,
        person_id=person_id,
        limit=limit,
    )


@router.post(
    "/{escalation_id}/acknowledgement",
    response_model=EscalationView,
    dependencies=[require_roles(Role.CENTER_COORDINATOR)],
)
async def acknowledge(escalation_id: uuid.UUID, run: Run, body: Acknowledgement | None = None):
    """A center coordinator takes the escalation up: it leaves the open list."""
    note = body.note if body else None
    command = AcknowledgeEscalation(escalation_id=escalation_id, note=note)
    return await run(escalations.acknowledge_escalation, command)
