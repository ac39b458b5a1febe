"""Escalations of refused returns, tracked until the higher level resolves them."""

from __future__ import annotations

import uuid
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from rescue_chassis.commands import Command, UnitOfWork
from rescue_chassis.refusals import Conflict
from rescue_events.contracts import EscalationResolvedV1
from transfer.commands.common import ensure_escorting_station, escort_stations
from transfer.domain import ReturnStatus
from transfer.tables import Escalation, Return
from transfer.views import EscalationView, escalation_view


class Resolution(BaseModel):
    model_config = ConfigDict(extra="forbid")

    outcome: Literal["home_area_accepts", "settled_locally", "other"] = Field(
        description="`home_area_accepts` puts the return back into planning."
    )
    resolution: str = Field(
        min_length=1, max_length=2000, examples=["省民政厅协调，户籍地同意接收"]
    )


class ResolveEscalation(Command):
    escalation_id: uuid.UUID
    resolution: Resolution


async def resolve_escalation(command: ResolveEscalation, uow: UnitOfWork) -> EscalationView:
    """The higher level's answer; a home area that accepts puts the return back
    into planning (`escalation_resolved`)."""
    escalation = await uow.load(
        Escalation, command.escalation_id, what="escalation", lock=True, stations=escort_stations
    )
    ensure_escorting_station(uow, escalation.escort_station_id)
    if escalation.status != "open":
        raise Conflict("Already resolved", "This escalation is resolved.")
    answer = command.resolution
    escalation.status = "resolved"
    escalation.resolved_at = uow.now
    escalation.outcome = answer.outcome
    escalation.resolution = answer.resolution
    if answer.outcome == "home_area_accepts":
        refused = await uow.get(Return, escalation.return_id, lock=True)
        refused.status = ReturnStatus.PENDING.value  # plan a new escort
        refused.escort_id = None
    await uow.publish(
        EscalationResolvedV1(
            person_id=escalation.person_id,
            escalation_id=escalation.id,
            return_id=escalation.return_id,
            resolved_at=uow.now,
            outcome=answer.outcome,
            resolution=answer.resolution,
        )
    )
    return escalation_view(escalation)
