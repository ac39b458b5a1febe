"""Burial and remains of a person who died (commands/burial.py)."""

from __future__ import annotations

import uuid

from fastapi import APIRouter

from intake.commands import burial
from intake.commands.burial import (
    BurialCorrection,
    BurialRecord,
    BurialView,
    CorrectBurial,
    RecordBurial,
)
from rescue_chassis.access import STATION_WORK
from rescue_chassis.auth import PrincipalDep, require_roles
from rescue_chassis.commands import Run, UnitOfWork
from rescue_chassis.db import SessionDep
from rescue_chassis.runtime import RuntimeDep

router = APIRouter(prefix="/persons", tags=["burial"], dependencies=[require_roles(*STATION_WORK)])


@router.post("/{person_id}/burial", status_code=201, response_model=BurialView)
async def record_burial(person_id: uuid.UUID, record: BurialRecord, run: Run):
    """Record where and how the remains went, after a stay that ended in death (409
    otherwise, and 409 for a second record: correct it with PUT); burial_recorded
    goes out for search and civil affairs."""
    command = RecordBurial(person_id=person_id, **dict(record))
    return await run(burial.record_burial, command, location="/persons/{person_id}/burial")


@router.put("/{person_id}/burial", response_model=BurialView)
async def correct_burial(person_id: uuid.UUID, correction: BurialCorrection, run: Run):
    """Replace the burial record with a corrected one, saying why (404 if none yet);
    burial_recorded goes out again, marked corrected."""
    command = CorrectBurial(person_id=person_id, **dict(correction))
    return await run(burial.correct_burial, command)


@router.get("/{person_id}/burial", response_model=BurialView)
async def get_burial(
    person_id: uuid.UUID, principal: PrincipalDep, session: SessionDep, runtime: RuntimeDep
):
    """The person's burial record (404 if none)."""
    return await burial.burial_of(UnitOfWork(session, runtime, principal), person_id)
