"""Search cases as stations see them: the list, one case, its tasks, what is
overdue now."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Query

from rescue_chassis.access import SEARCH_WORK
from rescue_chassis.auth import PrincipalDep, require_roles
from rescue_chassis.commands import UnitOfWork
from rescue_chassis.db import SessionDep
from rescue_chassis.runtime import RuntimeDep
from search import queries
from search.commands.cases import CaseView
from search.queries import TaskView
from search.visibility import readable_case

router = APIRouter(
    prefix="/cases", tags=["search cases"], dependencies=[require_roles(*SEARCH_WORK)]
)


@router.get("", response_model=list[CaseView])
async def list_cases(
    principal: PrincipalDep,
    session: SessionDep,
    runtime: RuntimeDep,
    status: Annotated[str | None, Query(pattern="^(open|identified)$")] = None,
    person_id: uuid.UUID | None = None,
    overdue: bool = False,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
):
    """Search cases of the caller's station (the center sees all); `overdue=true` for
    cases whose family-search notice is past its 24-hour deadline."""
    reading = UnitOfWork(session, runtime, principal)
    return await queries.cases(reading, status, person_id, overdue, limit)


# ":uuid": only an id matches, so a sibling path such as /cases/identity-lookup (POST
# only) is a 405 for GET, not a 422 about its "case id"; a malformed id names no case.
@router.get("/{case_id:uuid}", response_model=CaseView)
async def get_case(
    case_id: uuid.UUID, principal: PrincipalDep, session: SessionDep, runtime: RuntimeDep
):
    reading = UnitOfWork(session, runtime, principal)
    return CaseView.of(await readable_case(reading, case_id))


@router.get("/{case_id}/tasks", response_model=list[TaskView])
async def case_tasks(
    case_id: uuid.UUID, principal: PrincipalDep, session: SessionDep, runtime: RuntimeDep
):
    """The case's tasks with their deadlines: notice, police check, DNA sample."""
    return await queries.case_tasks(UnitOfWork(session, runtime, principal), case_id)


overdue_router = APIRouter(tags=["search cases"], dependencies=[require_roles(*SEARCH_WORK)])


@overdue_router.get("/overdue", response_model=list[TaskView])
async def overdue_now(
    principal: PrincipalDep,
    session: SessionDep,
    runtime: RuntimeDep,
    kind: Annotated[
        str | None, Query(pattern="^(family_search_notice|police_check|dna_sample)$")
    ] = None,
):
    """What is overdue in my station now (the center: the network), oldest first."""
    return await queries.overdue_tasks(UnitOfWork(session, runtime, principal), kind)


@overdue_router.get("/tasks", response_model=list[TaskView])
async def open_tasks(
    principal: PrincipalDep,
    session: SessionDep,
    runtime: RuntimeDep,
    kind: Annotated[
        str | None, Query(pattern="^(family_search_notice|police_check|dna_sample)$")
    ] = None,
    limit: Annotated[int, Query(ge=1, le=2000)] = 500,
):
    """Every open task of my station (the center: the network), due or not, the
    earliest deadline first: the duty board's deadlines in one read."""
    return await queries.open_tasks(UnitOfWork(session, runtime, principal), kind, limit)
