"""The long-stay settlement procedure (长期滞留 → 落户安置): once a stay has raised
long_stay_reached, staff record each step in order: household registration
applied for and granted, extreme-poverty support (特困供养) applied for and
granted, placement in a care institution. The last step allows a discharge as
`settled`; the search goes on meanwhile."""

from __future__ import annotations

import uuid

from fastapi import APIRouter

from intake.commands import settlement
from intake.commands.settlement import SettlementStepRequest
from intake.record_views import SettlementView, settlement_of
from intake.tables import Person
from rescue_chassis.access import STATION_WORK
from rescue_chassis.auth import PrincipalDep, require_roles
from rescue_chassis.commands import Run, load
from rescue_chassis.db import SessionDep
from rescue_chassis.runtime import RuntimeDep

router = APIRouter(
    prefix="/persons", tags=["settlement"], dependencies=[require_roles(*STATION_WORK)]
)


@router.post("/{person_id}/settlement/steps", status_code=201, response_model=SettlementView)
async def record_settlement_step(person_id: uuid.UUID, request: SettlementStepRequest, run: Run):
    """Record the next step of the current stay's settlement procedure: only once
    the stay has reached long stay, and only in order (409 otherwise)."""
    command = settlement.RecordSettlementStep(person_id=person_id, step=request)
    return await run(settlement.record_settlement_step, command)


@router.get("/{person_id}/settlement", response_model=SettlementView)
async def get_settlement(
    person_id: uuid.UUID, principal: PrincipalDep, session: SessionDep, runtime: RuntimeDep
):
    """The current stay's settlement procedure: the steps done and the next one."""
    person = await load(session, runtime, principal, Person, person_id, what="person")
    return await settlement_of(session, person)
