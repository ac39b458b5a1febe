"""Repeat wandering (屡送屡返): returned persons admitted again, for the origin
station and the admitting station."""

from __future__ import annotations

from fastapi import APIRouter

from followup import queries
from followup.views import RepeatWanderingView
from rescue_chassis.access import STATION_WORK
from rescue_chassis.auth import PrincipalDep, require_roles
from rescue_chassis.commands import UnitOfWork
from rescue_chassis.db import SessionDep
from rescue_chassis.runtime import RuntimeDep

router = APIRouter(
    prefix="/repeat-wanderings",
    tags=["repeat wandering"],
    dependencies=[require_roles(*STATION_WORK)],
)


@router.get("", response_model=list[RepeatWanderingView])
async def list_repeat_wanderings(principal: PrincipalDep, session: SessionDep, runtime: RuntimeDep):
    return await queries.repeat_wanderings(UnitOfWork(session, runtime, principal))
