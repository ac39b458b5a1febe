"""Police partners: stations ask for identity checks and send DNA samples; the
police answer through their own API (role `partner`, the token's station_id names
the police agency) or on rescue.partner.answers."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Annotated

from fastapi import APIRouter
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field, model_validator
from sqlalchemy import select

from rescue_chassis.access import SEARCH_WORK, ensure_known_station, ensure_visible, may_see
from rescue_chassis.auth import Principal, PrincipalDep, Role, require_roles
from rescue_chassis.db import SessionDep
from rescue_chassis.idempotency import IdempotencyKey, IdempotentRequest
from rescue_chassis.moments import PastInstant
from rescue_chassis.problems import Problem, invalid
from rescue_chassis.runtime import RuntimeDep
from rescue_events.contracts.search_police import (
    DnaResult,
    PoliceCheckResult,
    PoliceDnaSampleSubmittedV1,
    PoliceIdentityCheckRequestedV1,
)
from search.api.fields import AsSeen
from search.domain import TaskKind
from search.police import (
    Answerer,
    PoliceRefused,
    SampleStatus,
    addressed_to,
    answer_check,
    contact_station,
    hit_to_reverify,
    report_dna_result,
)
from search.tables import DnaSample, PoliceCheck, SearchCase, tables
from search.tasks import complete_task

router = APIRouter()
stations = APIRouter(
    prefix="/cases", tags=["police checks and DNA"], dependencies=[require_roles(*SEARCH_WORK)]
)
police = APIRouter(
    prefix="/police", tags=["police partner API"], dependencies=[require_roles(Role.POLICE)]
)


# ---- views ------------------------------------------------------------------


class PoliceCheckView(BaseModel):
    id: uuid.UUID
    case_id: uuid.UUID
    status: str
    face_photo_ref: str | None
    stated_names: str | None
    description: str | None
    requested_by: str
    requested_at: datetime
    result: str | None
    agency_id: str | None = Field(description="The police agency asked: it alone answers.")
    answered_by: str | None
    answered_via: str | None
    answered_at: datetime | None
    response_seconds: float | None = Field(description="answered_at − requested_at.")
    full_name: str | None
    id_record_ref: str | None
    home_province: str | None
    home_address: str | None
    note: str | None


class DnaSampleView(BaseModel):
    id: uuid.UUID
    case_id: uuid.UUID
    sample_ref: str
    taken_at: datetime
    taken_by: str
    submitted_by: str
    submitted_at: datetime
    reverifies_sample_id: uuid.UUID | None
    status: str
    result: str | None
    matched_record_id: str | None
    agency_id: str | None
    reported_via: str | None
    reported_at: datetime | None
    response_seconds: float | None = Field(description="reported_at − submitted_at.")
    note: str | None

    @model_validator(mode="after")
    def _by_role(self) -> DnaSampleView:
        """DNA sample references and matches in full for the search specialists and
        the center (rescue_chassis.access.SENSITIVE); the others see the status."""
        if not may_see("dna"):
            self.sample_ref = "•••" + self.sample_ref[-4:]
            self.matched_record_id = None if self.matched_record_id is None else "•••"
        return self


class CasePoliceView(BaseModel):
    case_id: uuid.UUID
    checks: list[PoliceCheckView]
    dna_samples: list[DnaSampleView]
    dna_reverified: bool = Field(
        description="A DNA hit was re-verified with a fresh sample: only then is it trusted."
    )


class PoliceAnswerView(BaseModel):
    """What the police see back: their answer as recorded, nothing of the case."""

    id: uuid.UUID
    status: str
    result: str | None
    agency_id: str | None
    answered_at: datetime | None
    response_seconds: float | None


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
        description="Reference of the admission face photo the police may fetch; none if "
        "there is no usable photo.",
        examples=["photo/2026/11/23/0042.jpg"],
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


class DnaSampleSubmission(BaseModel):
    model_config = ConfigDict(extra="forbid")

    agency_id: str = Field(
        min_length=1,
        max_length=64,
        description="The police agency the sample goes to: only its result is taken.",
        examples=["gushi-police"],
    )
    sample_ref: str = Field(
        min_length=1,
        max_length=100,
        description="The sample's label or barcode; a re-verification needs a new one.",
        examples=["DNA-411500-2026-00042"],
    )
    taken_at: PastInstant = Field(
        description="When the sample was taken (with an offset).",
        examples=["2026-11-23T09:30:00+08:00"],
    )
    taken_by: str = Field(
        min_length=1,
        max_length=200,
        description="Who took it (police officer or medical staff).",
        examples=["固始县公安局 张警官"],
    )


async def open_case_of(session, principal: Principal, runtime, case_id: uuid.UUID) -> SearchCase:
    ensure_known_station(principal, runtime.network)
    case = await session.get(SearchCase, case_id, with_for_update=True)
    if case is None:
        raise Problem(404, "Not found", "No such search case.")
    ensure_visible(principal, runtime.network, "search case", case.station_id)
    if case.status != "open":
        raise Problem(409, "Not open", "This person is identified: the search has ended.")
    return case


@stations.post("/{case_id}/police-checks", status_code=201, response_model=PoliceCheckView)
async def request_police_check(
    case_id: uuid.UUID,
    request: PoliceCheckRequest,
    principal: PrincipalDep,
    session: SessionDep,
    runtime: RuntimeDep,
    idempotency_key: IdempotencyKey = None,
):
    """Ask the police to identify the person (`police_identity_check_requested` on
    rescue.partner.police): only sex, age, names, description and a photo reference;
    a domestic-violence victim's station is never named (the center is). Completes
    the case's police-check task."""
    idem = await IdempotentRequest.check(
        session, tables.idempotency, idempotency_key, principal, request
    )
    if idem.replayed:
        return JSONResponse(idem.stored_response, status_code=idem.stored_status)
    case = await open_case_of(session, principal, runtime, case_id)
    now = datetime.now(UTC)
    names = (
        request.stated_names
        if request.stated_names is not None
        else [n for n in (case.stated_names or "").split("、") if n]
    )
    sex = request.sex_or_admitted(case)
    estimated_age = request.age_or_admitted(case)
    check = PoliceCheck(
        id=uuid.uuid4(),
        case_id=case.id,
        person_id=case.person_id,
        station_id=case.station_id,
        sex=sex.value,
        estimated_age=estimated_age,
        stated_names="、".join(names) or None,
        description=request.description,
        face_photo_ref=request.face_photo_ref,
        requested_by=request.requested_by or principal.subject,
        requested_at=now,
        status="requested",
        agency_id=request.agency_id,
    )
    session.add(check)
    await session.flush()
    await complete_task(session, case.id, TaskKind.POLICE_CHECK, now)
    await runtime.outbox.stage(
        session,
        PoliceIdentityCheckRequestedV1(
            person_id=case.person_id,
            request_id=check.id,
            case_id=case.id,
            station_id=contact_station(runtime.network, case.station_id, case.categories),
            agency_id=check.agency_id,
            sex=sex,
            estimated_age=estimated_age,
            stated_names=names,
            description=request.description,
            face_photo_ref=request.face_photo_ref,
            requested_at=now,
        ),
    )
    view = PoliceCheckView.model_validate(check, from_attributes=True)
    await idem.remember(session, 201, view.model_dump(mode="json"))
    await session.commit()
    return view


@stations.post("/{case_id}/dna-samples", status_code=201, response_model=DnaSampleView)
async def submit_dna_sample(
    case_id: uuid.UUID,
    submission: DnaSampleSubmission,
    principal: PrincipalDep,
    session: SessionDep,
    runtime: RuntimeDep,
    idempotency_key: IdempotencyKey = None,
):
    """Send a DNA sample to the police for the anti-trafficking database
    (`police_dna_sample_submitted`). While the case has an unverified hit, a sample
    with another reference taken after the hit re-verifies it. Completes the case's
    DNA-sample task."""
    idem = await IdempotentRequest.check(
        session, tables.idempotency, idempotency_key, principal, submission
    )
    if idem.replayed:
        return JSONResponse(idem.stored_response, status_code=idem.stored_status)
    case = await open_case_of(session, principal, runtime, case_id)
    now = datetime.now(UTC)
    if submission.taken_at > now:
        raise invalid("taken_at", "is in the future")
    if await session.scalar(
        # by the blind index: the reference itself is encrypted at rest
        select(DnaSample.id).where(DnaSample.sample_ref_lookup == submission.sample_ref)
    ):
        raise Problem(
            409,
            "Sample already submitted",
            f"Sample {submission.sample_ref!r} was submitted before; a fresh sample needs a "
            "new reference.",
        )
    hit = await hit_to_reverify(session, case.id, submission.sample_ref, submission.taken_at)
    sample = DnaSample(
        id=uuid.uuid4(),
        case_id=case.id,
        person_id=case.person_id,
        station_id=case.station_id,
        sample_ref=submission.sample_ref,
        taken_at=submission.taken_at,
        taken_by=submission.taken_by,
        submitted_by=principal.subject,
        submitted_at=now,
        reverifies_sample_id=hit.id if hit else None,
        status=SampleStatus.SUBMITTED.value,
        agency_id=submission.agency_id,
    )
    session.add(sample)
    await session.flush()
    await complete_task(session, case.id, TaskKind.DNA_SAMPLE, now)
    await runtime.outbox.stage(
        session,
        PoliceDnaSampleSubmittedV1(
            person_id=case.person_id,
            sample_id=sample.id,
            case_id=case.id,
            station_id=contact_station(runtime.network, case.station_id, case.categories),
            agency_id=sample.agency_id,
            sample_ref=sample.sample_ref,
            taken_at=sample.taken_at,
            taken_by=sample.taken_by,
            submitted_at=now,
            reverifies_sample_id=sample.reverifies_sample_id,
        ),
    )
    view = DnaSampleView.model_validate(sample, from_attributes=True)
    await idem.remember(session, 201, view.model_dump(mode="json"))
    await session.commit()
    return view


@stations.get("/{case_id}/police", response_model=CasePoliceView)
async def case_police(
    case_id: uuid.UUID, principal: PrincipalDep, session: SessionDep, runtime: RuntimeDep
):
    """The case's police checks and DNA samples, with the police's answers, response
    times, and whether a DNA hit was re-verified."""
    case = await session.get(SearchCase, case_id)
    if case is None:
        raise Problem(404, "Not found", "No such search case.")
    ensure_visible(principal, runtime.network, "search case", case.station_id)
    checks = await session.scalars(
        select(PoliceCheck).where(PoliceCheck.case_id == case.id).order_by(PoliceCheck.requested_at)
    )
    samples = (
        await session.scalars(
            select(DnaSample).where(DnaSample.case_id == case.id).order_by(DnaSample.submitted_at)
        )
    ).all()
    return CasePoliceView(
        case_id=case.id,
        checks=[PoliceCheckView.model_validate(c, from_attributes=True) for c in checks],
        dna_samples=[DnaSampleView.model_validate(s, from_attributes=True) for s in samples],
        # from the same rows, not a second query: a result committed in between
        # would show a confirmed hit next to a fresh sample still "submitted"
        dna_reverified=any(s.status == SampleStatus.HIT_CONFIRMED.value for s in samples),
    )


# ---- the police answer ------------------------------------------------------


class PoliceCheckAnswer(BaseModel):
    model_config = ConfigDict(extra="forbid")

    result: PoliceCheckResult = Field(
        description="identified, no_match or inconclusive.", examples=["identified"]
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


def answerer(principal: Principal) -> Answerer:
    # The token's station_id names the agency; only the one asked may answer.
    return Answerer(
        agency_id=principal.station_id, by=f"{principal.station_id}:{principal.subject}", via="api"
    )


@police.post("/checks/{request_id}/answer", response_model=PoliceAnswerView)
async def answer_police_check(
    request_id: uuid.UUID,
    body: PoliceCheckAnswer,
    principal: PrincipalDep,
    session: SessionDep,
    runtime: RuntimeDep,
):
    """A police agency answers an identity check; the response time is recorded."""
    check = await session.get(PoliceCheck, request_id, with_for_update=True)
    if check is None or not addressed_to(check, principal.station_id):
        # as referral's partner API: another agency learns nothing of the check
        raise Problem(404, "Not found", "No such identity check for your agency.")
    try:
        await answer_check(
            session,
            runtime,
            check,
            answerer(principal),
            result=body.result,
            answered_at=datetime.now(UTC),
            full_name=body.full_name,
            id_record_ref=body.id_record_ref,
            home_province=body.home_province,
            home_address=body.home_address,
            note=body.note,
        )
    except PoliceRefused as refused:
        raise Problem(409, "Already answered", refused.reason) from None
    view = PoliceAnswerView.model_validate(check, from_attributes=True)
    await session.commit()
    return view


@police.post("/dna-samples/{sample_id}/result", response_model=PoliceAnswerView)
async def report_police_dna_result(
    sample_id: uuid.UUID,
    body: DnaResultReport,
    principal: PrincipalDep,
    session: SessionDep,
    runtime: RuntimeDep,
):
    """A police agency reports a sample's DNA database result. A hit stays unverified
    until a fresh sample hits the same record."""
    if body.result is DnaResult.HIT and body.matched_record_id is None:
        raise invalid("matched_record_id", "is required with a hit")
    sample = await session.get(DnaSample, sample_id, with_for_update=True)
    if sample is None or not addressed_to(sample, principal.station_id):
        raise Problem(404, "Not found", "No such DNA sample for your agency.")
    try:
        await report_dna_result(
            session,
            runtime,
            sample,
            answerer(principal),
            result=body.result,
            reported_at=datetime.now(UTC),
            matched_record_id=body.matched_record_id,
            note=body.note,
        )
    except PoliceRefused as refused:
        raise Problem(409, "Result already reported", refused.reason) from None
    view = PoliceAnswerView(
        id=sample.id,
        status=sample.status,
        result=sample.result,
        agency_id=sample.agency_id,
        answered_at=sample.reported_at,
        response_seconds=sample.response_seconds,
    )
    await session.commit()
    return view


router.include_router(stations)
router.include_router(police)
