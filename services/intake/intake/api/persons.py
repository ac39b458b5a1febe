"""Admissions and the person's record: admit, come back, read (commands/admission.py)."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Query

from intake import queries
from intake.commands import admission
from intake.commands.admission import AdmissionRequest, AdmitPerson, Readmission, ReadmitPerson
from intake.views import PersonView, StaySourceView
from rescue_chassis.access import STATION_WORK
from rescue_chassis.auth import PrincipalDep, require_roles
from rescue_chassis.commands import Run, UnitOfWork
from rescue_chassis.db import SessionDep
from rescue_chassis.runtime import RuntimeDep
from rescue_events.contracts import IdentityStatus

router = APIRouter(prefix="/persons", tags=["persons"], dependencies=[require_roles(*STATION_WORK)])


@router.post("", status_code=201, response_model=PersonView)
async def admit_person(request: AdmissionRequest, run: Run):
    """Admit a person to the caller's station (入站登记). See the request's rules:
    a refused admission answers 422 naming the field at fault."""
    # The request is validated already, by the same fields: not a second time.
    command = AdmitPerson.model_construct(request.model_fields_set, **dict(request))
    return await run(admission.admit_person, command, location="/persons/{id}")


@router.post("/{person_id}/stays", status_code=201, response_model=PersonView)
async def readmit_person(person_id: uuid.UUID, request: Readmission, run: Run):
    """The person is back (at any station of the network): a new stay on the same
    record, so the stay history stays whole and followup sees a repeat wanderer.
    A person still in a station is a 409; it names that station only to those who
    see the person (that station itself and the center), others read "another station"."""
    command = ReadmitPerson(person_id=person_id, **dict(request))
    return await run(admission.readmit_person, command)


@router.get("/{person_id}/sources", response_model=list[StaySourceView])
async def stay_sources(
    person_id: uuid.UUID, principal: PrincipalDep, session: SessionDep, runtime: RuntimeDep
):
    """Where each transferred stay came from: the discharging hospital or the
    sending station, with its reference (stays by other routes have none)."""
    return await queries.stay_sources(UnitOfWork(session, runtime, principal), person_id)


@router.get("/{person_id}", response_model=PersonView)
async def get_person(
    person_id: uuid.UUID, principal: PrincipalDep, session: SessionDep, runtime: RuntimeDep
):
    """The person's record with every stay (the stay history, earlier stays included);
    a station of an earlier stay keeps reading it."""
    return await queries.person_record(UnitOfWork(session, runtime, principal), person_id)


@router.get("", response_model=list[PersonView])
async def list_persons(
    principal: PrincipalDep,
    session: SessionDep,
    runtime: RuntimeDep,
    identity_status: IdentityStatus | None = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
):
    """The caller's station's persons (the center sees the whole network), newest first."""
    reading = UnitOfWork(session, runtime, principal)
    return await queries.persons(reading, identity_status, limit)
