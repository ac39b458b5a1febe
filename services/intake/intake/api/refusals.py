"""Refusals of help (劝导记录): recorded with the advice given, no admission; linked
to the person when staff recognise them, and counted per person
(commands/refusals.py)."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Query

from intake import queries, refusal_views
from intake.commands import refusals
from intake.commands.refusals import LinkRefusal, RecordRefusal, RefusalLink, RefusalRecord
from intake.refusal_views import PersonRefusals, RefusalView, RefusalWithMatches, with_matches
from intake.tables import Refusal
from rescue_chassis.access import STATION_WORK
from rescue_chassis.auth import PrincipalDep, require_roles
from rescue_chassis.commands import Run, UnitOfWork
from rescue_chassis.db import SessionDep
from rescue_chassis.runtime import RuntimeDep

router = APIRouter(tags=["refusals"], dependencies=[require_roles(*STATION_WORK)])


@router.post("/refusals", status_code=201, response_model=RefusalWithMatches)
async def record_refusal(record: RefusalRecord, run: Run):
    """Record a refusal of help with the advice given; help_refused goes out. With
    `person_id` the refusal is that person's (404 if the network knows no such
    person); otherwise `possible_matches` lists who it may be, by name."""
    command = RecordRefusal(**dict(record))
    return await run(refusals.record_refusal, command, location="/refusals/{id}")


@router.get("/refusals", response_model=list[RefusalView])
async def list_refusals(
    principal: PrincipalDep,
    session: SessionDep,
    runtime: RuntimeDep,
    person_id: uuid.UUID | None = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
):
    """The caller's station's refusals (the center sees the network), newest first;
    `person_id`: that person's only."""
    return await queries.refusals(UnitOfWork(session, runtime, principal), limit, person_id)


@router.get("/refusals/{refusal_id}", response_model=RefusalWithMatches)
async def get_refusal(
    refusal_id: uuid.UUID, principal: PrincipalDep, session: SessionDep, runtime: RuntimeDep
):
    """The refusal, with who it may be by name while it is linked to no one."""
    reading = UnitOfWork(session, runtime, principal)
    return await with_matches(reading, await reading.load(Refusal, refusal_id, what="refusal"))


@router.post("/refusals/{refusal_id}/person", response_model=PersonRefusals)
async def link_refusal(refusal_id: uuid.UUID, link: RefusalLink, run: Run):
    """The refusal's person is this one: a person record of the network (any
    station's), a person met in earlier refusals, or `earlier_refusal_id`'s person.
    refusal_linked goes out; answered with the person's refusals, counted."""
    command = LinkRefusal(refusal_id=refusal_id, **dict(link))
    return await run(refusals.link_refusal, command)


@router.get("/persons/{person_id}/refusals", response_model=PersonRefusals)
async def person_refusals(
    person_id: uuid.UUID, principal: PrincipalDep, session: SessionDep, runtime: RuntimeDep
):
    """How many times the person refused help in the network, and those refusals
    the caller sees (a person record's id, or a person known only from refusals)."""
    return await refusal_views.person_refusals(UnitOfWork(session, runtime, principal), person_id)
