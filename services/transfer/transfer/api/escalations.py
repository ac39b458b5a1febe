"""Escalations of refused returns, tracked until the higher level resolves them."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Literal

from fastapi import APIRouter
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import select

from rescue_chassis.access import STATION_WORK, sees_network
from rescue_chassis.auth import PrincipalDep, require_roles
from rescue_chassis.db import SessionDep
from rescue_chassis.problems import Problem
from rescue_chassis.runtime import RuntimeDep
from rescue_events.contracts import EscalationResolvedV1
from transfer.api.common import conflict, ensure_escorting_station
from transfer.domain import ReturnStatus
from transfer.tables import Escalation, Return
from transfer.views import EscalationView

router = APIRouter(
    prefix="/escalations", tags=["escalations"], dependencies=[require_roles(*STATION_WORK)]
)


class Resolution(BaseModel):
    model_config = ConfigDict(extra="forbid")

    outcome: Literal["home_area_accepts", "settled_locally", "other"] = Field(
        description="`home_area_accepts` puts the return back into planning."
    )
    resolution: str = Field(
        min_length=1, max_length=2000, examples=["省民政厅协调，户籍地同意接收"]
    )


@router.get("", response_model=list[EscalationView])
async def list_escalations(
    principal: PrincipalDep,
    session: SessionDep,
    runtime: RuntimeDep,
    status: Literal["open", "resolved"] | None = None,
):
    query = select(Escalation).order_by(Escalation.opened_at)
    if not sees_network(principal, runtime.network):
        query = query.where(Escalation.escort_station_id == principal.station_id)
    if status:
        query = query.where(Escalation.status == status)
    return [
        EscalationView.model_validate(e, from_attributes=True)
        for e in (await session.scalars(query)).all()
    ]


@router.post("/{escalation_id}/resolution", response_model=EscalationView)
async def resolve_escalation(
    escalation_id: uuid.UUID,
    resolution: Resolution,
    principal: PrincipalDep,
    session: SessionDep,
    runtime: RuntimeDep,
):
    escalation = await session.get(Escalation, escalation_id, with_for_update=True)
    if escalation is None or not (
        sees_network(principal, runtime.network)
        or principal.station_id == escalation.escort_station_id
    ):
        raise Problem(404, "Not found", "No such escalation.")
    ensure_escorting_station(principal, escalation.escort_station_id)
    if escalation.status != "open":
        raise conflict("Already resolved", "This escalation is resolved.")
    now = datetime.now(UTC)
    escalation.status = "resolved"
    escalation.resolved_at = now
    escalation.outcome = resolution.outcome
    escalation.resolution = resolution.resolution
    if resolution.outcome == "home_area_accepts":
        refused_return = await session.get(Return, escalation.return_id, with_for_update=True)
        refused_return.status = ReturnStatus.PENDING.value  # plan a new escort
        refused_return.escort_id = None
    await runtime.outbox.stage(
        session,
        EscalationResolvedV1(
            person_id=escalation.person_id,
            escalation_id=escalation.id,
            return_id=escalation.return_id,
            resolved_at=now,
            outcome=resolution.outcome,
            resolution=resolution.resolution,
        ),
    )
    result = EscalationView.model_validate(escalation, from_attributes=True)
    await session.commit()
    return result
