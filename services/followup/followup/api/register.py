"""The at-risk register (易流浪走失人员信息库) and its town rosters (花名册)."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Path
from fastapi.responses import HTMLResponse

from followup import queries
from followup.api.common import JurisdictionFilter
from followup.commands import register
from followup.commands.register import Registration
from followup.views import AtRiskEntryView
from rescue_chassis.access import STATION_WORK
from rescue_chassis.auth import PrincipalDep, require_roles
from rescue_chassis.commands import Run, UnitOfWork
from rescue_chassis.db import SessionDep
from rescue_chassis.runtime import RuntimeDep
from rescue_divisions.fields import AdminCodeFilter

router = APIRouter(
    prefix="/at-risk-register",
    tags=["at-risk register"],
    dependencies=[require_roles(*STATION_WORK)],
)

JurisdictionCode = Annotated[
    str, Path(pattern=r"^[0-9]{6}([0-9]{3})?$", examples=["511324105"]), AdminCodeFilter
]


@router.get("", response_model=list[AtRiskEntryView])
async def list_register(
    principal: PrincipalDep,
    session: SessionDep,
    runtime: RuntimeDep,
    jurisdiction_code: JurisdictionFilter = None,
    person_id: uuid.UUID | None = None,
):
    reading = UnitOfWork(session, runtime, principal)
    return await queries.register(reading, jurisdiction_code, person_id)


@router.post("", status_code=201, response_model=AtRiskEntryView)
async def add_to_register(registration: Registration, run: Run):
    """Staff enter a returned person the automatic rules did not."""
    return await run(register.add_to_register, register.AddToRegister(registration=registration))


@router.get("/rosters/{jurisdiction_code}", response_class=HTMLResponse)
async def town_roster(
    jurisdiction_code: JurisdictionCode,
    principal: PrincipalDep,
    session: SessionDep,
    runtime: RuntimeDep,
):
    """The roster for a town (9 digits) or a county (6): a page to print and send."""
    reading = UnitOfWork(session, runtime, principal)
    return HTMLResponse(await queries.town_roster(reading, jurisdiction_code))
