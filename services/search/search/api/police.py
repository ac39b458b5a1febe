"""Police partners: stations ask for identity checks and send DNA samples; the
police answer through their own API (role `partner`, the token's station_id names
the police agency) or on rescue.partner.answers."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Query
from pydantic import BaseModel, ConfigDict, Field

from rescue_chassis.access import SEARCH_WORK
from rescue_chassis.auth import PrincipalDep, Role, require_roles
from rescue_chassis.commands import Run, UnitOfWork
from rescue_chassis.db import SessionDep
from rescue_chassis.runtime import RuntimeDep
from rescue_events.contracts.search_police import DnaResult, PoliceCheckResult
from search import queries
from search.api.fields import AsSeen
from search.commands import police as commands
from search.commands.police import (
    DnaSampleSubmission,
    DnaSampleView,
    PoliceAnswerView,
    PoliceCheckView,
)
from search.police import unverifiable_checks
from search.queries import CasePoliceView

router = APIRouter()
stations = APIRouter(
    prefix="/cases", tags=["police checks and DNA"], dependencies=[require_roles(*SEARCH_WORK)]
)
flagged = APIRouter(
    prefix="/police-checks",
    tags=["police checks and DNA"],
    dependencies=[require_roles(*SEARCH_WORK)],
)
police = APIRouter(
    prefix="/police", tags=["police partner API"], dependencies=[require_roles(Role.POLICE)]
)


# ---- stations ask -----------------------------------------------------------


class PoliceCheckRequest(AsSeen):
    model_config = ConfigDict(extra="forbid")

    agency_id: str = Field(
        min_length=1,
        max_length=64,
        description="The police agency asked (its partner tokens' station_id): only its "
        "answer is taken.",
        examples=["gushi-police"],
    )
    face_photo_ref: str | None = Field(
        default=None,
        min_length=1,
        max_length=300,
        description="Deprecated free-text reference; use face_photo_id.",
        examples=["photo/2026/11/23/0042.jpg"],
        deprecated=True,
    )
    face_photo_id: uuid.UUID | None = Field(
        default=None,
        description="The face photo to show the police, one intake shared for this person "
        "(search's /shared-photos); omitted: the latest (one with a face found first). The "
        "police fetch it from intake through a short-lived signed link.",
        examples=["0b6f1c1e-8d4e-4c55-9a57-4f0f3f6d2b11"],
    )
    stated_names: list[Annotated[str, Field(min_length=1, max_length=100)]] | None = Field(
        default=None,
        max_length=20,
        description="Names to check, as the person says them; omitted: those of the admission.",
        examples=[["李建国", "李建军"]],
    )
    description: str | None = Field(
        default=None,
        max_length=2000,
        description="Physical description for the check (build, scars, clothing).",
        examples=["约45岁男性,身高170cm,左手背有疤"],
    )
    requested_by: str | None = Field(
        default=None,
        min_length=1,
        max_length=200,
        description="Staff member asking; omitted: the caller.",
        examples=["王芳"],
    )


@stations.post("/{case_id}/police-checks", status_code=201, response_model=PoliceCheckView)
async def request_police_check(case_id: uuid.UUID, request: PoliceCheckRequest, run: Run):
    """Ask the police to identify the person (`police_identity_check_requested` on
    rescue.partner.police): only sex, age, names, description and the face photo's id;
    a domestic-violence victim's station is never named (the center is). Completes
    the case's police-check task."""
    return await run(
        commands.request_police_check,
        commands.RequestPoliceCheck(case_id=case_id, **request.model_dump()),
    )


@stations.post("/{case_id}/dna-samples", status_code=201, response_model=DnaSampleView)
async def submit_dna_sample(case_id: uuid.UUID, submission: DnaSampleSubmission, run: Run):
    """Send a DNA sample to the police for the anti-trafficking database
    (`police_dna_sample_submitted`). While the case has an unverified hit, a sample
    with another reference taken after the hit re-verifies it. Completes the case's
    DNA-sample task."""
    return await run(
        commands.submit_dna_sample,
        commands.SubmitDnaSample(case_id=case_id, **submission.model_dump()),
    )


@flagged.get("/unverifiable", response_model=list[PoliceCheckView])
async def unverifiable_police_checks(
    principal: PrincipalDep,
    session: SessionDep,
    runtime: RuntimeDep,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
):
    """Identity checks even the highest police level could not verify (逐级上报 to
    the top), newest first, of the caller's station (the center: every station):
    the search goes on by other means."""
    checks = await unverifiable_checks(UnitOfWork(session, runtime, principal), limit)
    return [PoliceCheckView.model_validate(c, from_attributes=True) for c in checks]


@stations.get("/{case_id}/police", response_model=CasePoliceView)
async def case_police(
    case_id: uuid.UUID, principal: PrincipalDep, session: SessionDep, runtime: RuntimeDep
):
    """The case's police checks and DNA samples, with the police's answers, response
    times, and whether a DNA hit was re-verified."""
    return await queries.case_police(UnitOfWork(session, runtime, principal), case_id)


# ---- the police answer ------------------------------------------------------


class PoliceCheckAnswer(BaseModel):
    model_config = ConfigDict(extra="forbid")

    result: PoliceCheckResult = Field(
        description="identified, no_match, inconclusive (looked, cannot say) or "
        "unverifiable (beyond this agency's level: the check is passed up to the next "
        "level, 逐级上报).",
        examples=["identified"],
    )
    full_name: str | None = Field(
        default=None,
        min_length=1,
        max_length=100,
        description="Who the person is.",
        examples=["李建国"],
    )
    id_record_ref: str | None = Field(
        default=None,
        min_length=1,
        max_length=100,
        description="The population-database record found.",
        examples=["HJ-411525-000123"],
    )
    home_province: str | None = Field(
        default=None,
        min_length=2,
        max_length=50,
        description="Registered home province.",
        examples=["四川省"],
    )
    home_address: str | None = Field(
        default=None,
        min_length=1,
        max_length=300,
        description="Registered home address.",
        examples=["四川省南充市仪陇县某镇某村"],
    )
    note: str | None = Field(
        default=None,
        max_length=2000,
        description="Anything the station should know.",
        examples=["人脸比对相似度高,建议采血复核"],
    )


class DnaResultReport(BaseModel):
    model_config = ConfigDict(extra="forbid")

    result: DnaResult = Field(description="hit, no_match or unusable.", examples=["hit"])
    matched_record_id: str | None = Field(
        default=None,
        min_length=1,
        max_length=100,
        description="The matched DNA database record; required with a hit.",
        examples=["DNA-REC-5113-0099"],
    )
    note: str | None = Field(
        default=None,
        max_length=2000,
        description="Anything the station should know.",
        examples=["比中,需复采复核"],
    )


@police.post("/checks/{request_id}/answer", response_model=PoliceAnswerView)
async def answer_police_check(request_id: uuid.UUID, body: PoliceCheckAnswer, run: Run):
    """A police agency answers an identity check; the response time is recorded."""
    return await run(
        commands.answer_police_check,
        commands.AnswerPoliceCheck(request_id=request_id, **body.model_dump()),
    )


@police.post("/dna-samples/{sample_id}/result", response_model=PoliceAnswerView)
async def report_police_dna_result(sample_id: uuid.UUID, body: DnaResultReport, run: Run):
    """A police agency reports a sample's DNA database result. A hit stays unverified
    until a fresh sample hits the same record."""
    return await run(
        commands.report_dna_result,
        commands.ReportDnaResult(sample_id=sample_id, **body.model_dump()),
    )


router.include_router(stations)
router.include_router(flagged)
router.include_router(police)
