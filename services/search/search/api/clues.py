"""Clues from conversation with the person: the structured "520" record
(望 observe, 闻 listen to the dialect, 问 ask, 切 note changes, 断 judge together).
Each new clue is matched again against the open missing-person reports."""

from __future__ import annotations

import uuid

from fastapi import APIRouter

from rescue_chassis.access import SEARCH_WORK
from rescue_chassis.auth import PrincipalDep, require_roles
from rescue_chassis.commands import Run, UnitOfWork
from rescue_chassis.db import SessionDep
from rescue_chassis.runtime import RuntimeDep
from search import queries
from search.commands import clues
from search.commands.clues import ClueRecord, ClueView

router = APIRouter(prefix="/cases", tags=["clues"], dependencies=[require_roles(*SEARCH_WORK)])


@router.post("/{case_id}/clues", status_code=201, response_model=ClueView)
async def record_clue(case_id: uuid.UUID, record: ClueRecord, run: Run):
    """Record a clue (`clue_recorded`); the case is matched again against the open
    missing-person reports, and new candidates go to the review queue."""
    command = clues.RecordClue(case_id=case_id, **record.model_dump())
    return await run(clues.record_clue, command)


@router.get("/{case_id}/clues", response_model=list[ClueView])
async def list_clues(
    case_id: uuid.UUID, principal: PrincipalDep, session: SessionDep, runtime: RuntimeDep
):
    """The case's clues in the order they were noted."""
    return await queries.clues(UnitOfWork(session, runtime, principal), case_id)
