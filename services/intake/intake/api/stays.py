"""Discharge: a stay ends with its reason (commands/stays.py)."""

from __future__ import annotations

import uuid

from fastapi import APIRouter

from intake.commands import stays
from intake.commands.stays import Discharge, DischargePerson
from intake.views import PersonView
from rescue_chassis.access import STATION_WORK
from rescue_chassis.auth import require_roles
from rescue_chassis.commands import Run

router = APIRouter(prefix="/persons", tags=["persons"], dependencies=[require_roles(*STATION_WORK)])


@router.post("/{person_id}/discharge", response_model=PersonView)
async def discharge(person_id: uuid.UUID, request: Discharge, run: Run):
    """End the person's current stay at the caller's station (see Discharge for the
    rules on belongings and on `settled`)."""
    command = DischargePerson(person_id=person_id, **dict(request))
    return await run(stays.discharge_person, command)
