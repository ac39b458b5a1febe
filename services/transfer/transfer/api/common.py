from __future__ import annotations

import uuid

from sqlalchemy.ext.asyncio import AsyncSession

from rescue_chassis.access import ensure_visible
from rescue_chassis.auth import Principal
from rescue_chassis.problems import Problem, invalid
from rescue_chassis.runtime import Runtime
from transfer.domain import PlanningRefused
from transfer.tables import Return


async def load_return(
    session: AsyncSession,
    runtime: Runtime,
    principal: Principal,
    return_id: uuid.UUID,
    *,
    for_update: bool = False,
) -> Return:
    found = await session.get(Return, return_id, with_for_update=for_update)
    if found is None:
        raise Problem(404, "Not found", "No such return.")
    ensure_visible(principal, runtime.network, "return", found.station_id, found.escort_station_id)
    return found


def ensure_escorting_station(principal: Principal, escort_station_id: str) -> None:
    if principal.station_id != escort_station_id:
        raise Problem(
            403,
            "Not the escorting station",
            f"Station {escort_station_id} runs this escort and records its steps.",
        )


def refused(error: PlanningRefused) -> Problem:
    return invalid(error.field, error.reason)


def conflict(title: str, detail: str) -> Problem:
    return Problem(409, title, detail)
