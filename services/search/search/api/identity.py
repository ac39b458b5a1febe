"""Confirming who a person is — by a reviewer, on evidence, optionally from a
candidate of the review queue — and recognising an earlier stay."""

from __future__ import annotations

import uuid

from fastapi import APIRouter
from pydantic import BaseModel, ConfigDict, Field

from rescue_chassis.access import REVIEWERS, SEARCH_WORK
from rescue_chassis.auth import PrincipalDep, require_roles
from rescue_chassis.commands import Run, UnitOfWork
from rescue_chassis.db import SessionDep
from rescue_chassis.runtime import RuntimeDep
from rescue_divisions.fields import NationalIdNumber
from search import queries
from search.commands import identity
from search.commands.identity import (
    ConfirmedIdentityView,
    EarlierStayRecognition,
    EarlierStayView,
    IdentityConfirmation,
)

router = APIRouter(
    prefix="/cases", tags=["search cases"], dependencies=[require_roles(*SEARCH_WORK)]
)


@router.post(
    "/{case_id}/identity-confirmation",
    response_model=ConfirmedIdentityView,
    dependencies=[require_roles(*REVIEWERS)],
)
async def confirm_identity(case_id: uuid.UUID, confirmation: IdentityConfirmation, run: Run):
    """A search specialist, station lead or center coordinator confirms who the
    person is, on evidence (`identity_confirmed`: return and referral start). A DNA
    hit counts only once re-verified with a fresh sample. The case's open tasks are
    cancelled, its notices come down, its other candidates are superseded."""
    command = identity.ConfirmIdentity(case_id=case_id, **confirmation.model_dump())
    return await run(identity.confirm_identity, command)


class NationalIdLookup(BaseModel):
    model_config = ConfigDict(extra="forbid")

    national_id_number: NationalIdNumber = Field(
        description="公民身份号码 to look for, exactly (case, spaces and full-width digits aside).",
        examples=["11010519491231002X"],
    )


@router.post(
    "/identity-lookup",
    response_model=list[ConfirmedIdentityView],
    dependencies=[require_roles(*REVIEWERS)],
)
async def find_confirmed_identities(
    lookup: NationalIdLookup, principal: PrincipalDep, session: SessionDep, runtime: RuntimeDep
):
    """The confirmed identities with exactly this national identity number (of the
    caller's station; the center sees all), e.g. was this person identified in an
    earlier case? The number is encrypted at rest and found by its blind index; a
    POST, so that it stays out of URLs and access logs."""
    number = lookup.national_id_number  # normalised and checked (GB 11643)
    return await queries.confirmed_identities(UnitOfWork(session, runtime, principal), number)


@router.get("/{case_id}/identity-confirmation", response_model=ConfirmedIdentityView)
async def confirmed_identity(
    case_id: uuid.UUID, principal: PrincipalDep, session: SessionDep, runtime: RuntimeDep
):
    """The confirmed identity with its evidence and national identity number."""
    return await queries.confirmed_identity(UnitOfWork(session, runtime, principal), case_id)


@router.post("/{case_id}/earlier-stays", status_code=201, response_model=EarlierStayView)
async def recognise_earlier_stay(case_id: uuid.UUID, recognition: EarlierStayRecognition, run: Run):
    """The person was in the network's records before (`earlier_stay_recognised`):
    followup flags a returned person back on the street."""
    command = identity.RecogniseEarlierStay(case_id=case_id, **recognition.model_dump())
    return await run(identity.recognise_earlier_stay, command)
