"""Confirming who a person is — by a reviewer, on evidence, optionally from a
candidate of the review queue — and recognising an earlier stay."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Annotated, Literal

from fastapi import APIRouter
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field, StrictFloat, field_validator
from sqlalchemy import select, update

from rescue_chassis.access import REVIEWERS, SEARCH_WORK, ensure_visible, may_see, sees_network
from rescue_chassis.auth import PrincipalDep, require_roles
from rescue_chassis.db import SessionDep
from rescue_chassis.idempotency import IdempotencyKey, IdempotentRequest
from rescue_chassis.problems import Problem, invalid
from rescue_chassis.runtime import RuntimeDep
from rescue_divisions.fields import HomeAdminCode, NationalIdNumber, home_in_province
from rescue_divisions.national_id import mask_national_id
from rescue_events.contracts import (
    EarlierStayRecognisedV1,
    IdentificationMethod,
    IdentityConfirmedV1,
)
from search.api.cases import CaseView
from search.evidence import (
    METHOD_BY_KIND,
    EvidenceClaim,
    EvidenceKind,
    evidence_refusal,
    strongest,
)
from search.matching import index_case_names
from search.notices import take_down_notices
from search.police import dna_hit_reverified
from search.tables import tables
from search.tables.core import EarlierStay, EarlierStaySuggestion, SearchCase
from search.tables.evidence import IdentityCandidate, IdentityEvidence, MissingPersonReport
from search.tasks import cancel_open_tasks

router = APIRouter(
    prefix="/cases", tags=["search cases"], dependencies=[require_roles(*SEARCH_WORK)]
)


class SelfReportVerified(BaseModel):
    model_config = ConfigDict(extra="forbid")

    kind: Literal["self_report_verified"] = Field(
        description="The person said who they are, and it was checked.",
        examples=["self_report_verified"],
    )
    note: str = Field(
        min_length=1,
        max_length=1000,
        description="How the self-report was verified.",
        examples=["本人说出村名和父亲姓名,经村委会电话核实"],
    )


class PoliceCheck(BaseModel):
    model_config = ConfigDict(extra="forbid")

    kind: Literal["police_check"] = Field(
        description="The police answered an identity check.", examples=["police_check"]
    )
    reference: str = Field(
        min_length=1,
        max_length=200,
        description="The police answer's reference (the police-check record, for now free).",
        examples=["固公(城关)核查〔2026〕1123号"],
    )


class DnaReverified(BaseModel):
    model_config = ConfigDict(extra="forbid")

    kind: Literal["dna_reverified"] = Field(
        description="A DNA hit, re-verified with a fresh sample (checked against the "
        "case's police records).",
        examples=["dna_reverified"],
    )
    reference: str | None = Field(
        default=None,
        max_length=200,
        description="The laboratory's reference of the re-verification.",
        examples=["DNA-RV-2026-0042"],
    )


class FaceMatchWithFamilyConfirmation(BaseModel):
    model_config = ConfigDict(extra="forbid")

    kind: Literal["face_match_with_family_confirmation"] = Field(
        description="A face match that the family confirmed.",
        examples=["face_match_with_family_confirmation"],
    )
    note: str = Field(
        min_length=1,
        max_length=1000,
        description="The family's confirmation: who confirmed, how (video call, visit).",
        examples=["其女李小红视频通话确认为其父"],
    )
    similarity: StrictFloat | None = Field(
        default=None, ge=0, le=1, description="The face comparison's score.", examples=[0.93]
    )


Evidence = Annotated[
    SelfReportVerified | PoliceCheck | DnaReverified | FaceMatchWithFamilyConfirmation,
    Field(discriminator="kind"),
]


class IdentityConfirmation(BaseModel):
    """Who the person is, where home is, and the evidence it rests on."""

    model_config = ConfigDict(extra="forbid")

    evidence: list[Evidence] = Field(
        min_length=1,
        max_length=4,
        description="At least one piece of evidence; each kind once.",
        examples=[[{"kind": "police_check", "reference": "固公(城关)核查〔2026〕1123号"}]],
    )
    candidate_id: uuid.UUID | None = Field(
        default=None,
        description="The review-queue candidate this confirms; its report is closed as found.",
        examples=["4f0c2b1e-7d7e-4a55-9a43-1c3f2b9e5d10"],
    )
    full_name: str = Field(
        min_length=1, max_length=100, description="The person's name.", examples=["李建国"]
    )
    national_id_number: NationalIdNumber | None = Field(
        default=None,
        description="公民身份号码 (GB 11643, 18 characters with its check character; "
        "full-width digits, spaces and a lower-case x are read as meant). Kept in search; "
        "never sent on an event.",
        examples=["11010519491231002X"],
    )
    home_province: str = Field(
        min_length=2, max_length=50, description="Province of home.", examples=["四川省"]
    )
    home_address: str = Field(
        min_length=1,
        max_length=300,
        description="The registered home address (户籍地址).",
        examples=["四川省南充市仪陇县新政镇石桥村3组"],
    )
    home_admin_code: HomeAdminCode | None = Field(
        default=None,
        description="GB/T 2260 code of the home: 6 (county), 9 (town) or 12 (village) digits, "
        "current or former (kept as given), in home_province.",
        examples=["511324"],
    )

    _home_in_province = field_validator("home_admin_code")(home_in_province("home_province"))


class ConfirmedIdentityView(CaseView):
    evidence: list[dict]
    national_id_number: str | None
    candidate_id: uuid.UUID | None
    missing_person_report_id: uuid.UUID | None


def _claims(confirmation: IdentityConfirmation) -> list[EvidenceClaim]:
    return [
        EvidenceClaim(
            kind=EvidenceKind(item.kind),
            reference=getattr(item, "reference", None),
            note=getattr(item, "note", None),
        )
        for item in confirmation.evidence
    ]


def _shown(number: str | None) -> str | None:
    """The national ID in full for the reviewers; masked for the rest of the case's
    staff (rescue_chassis.access.SENSITIVE)."""
    if number is None or may_see("national_id_number"):
        return number
    return mask_national_id(number)


def _view(case: SearchCase, record: IdentityEvidence | None, report_id) -> ConfirmedIdentityView:
    return ConfirmedIdentityView(
        **CaseView.of(case).model_dump(exclude={"notice_overdue"}),
        evidence=record.evidence if record else [],
        national_id_number=_shown(record.national_id_number) if record else None,
        candidate_id=record.candidate_id if record else None,
        missing_person_report_id=report_id,
    )


@router.post(
    "/{case_id}/identity-confirmation",
    response_model=ConfirmedIdentityView,
    dependencies=[require_roles(*REVIEWERS)],
)
async def confirm_identity(
    case_id: uuid.UUID,
    confirmation: IdentityConfirmation,
    principal: PrincipalDep,
    session: SessionDep,
    runtime: RuntimeDep,
    idempotency_key: IdempotencyKey = None,
):
    """A search specialist, station lead or center coordinator confirms who the
    person is, on evidence (`identity_confirmed`: return and referral start). A DNA
    hit counts only once re-verified with a fresh sample. The case's open tasks are
    cancelled, its notices come down, its other candidates are superseded."""
    idem = await IdempotentRequest.check(
        session, tables.idempotency, idempotency_key, principal, confirmation
    )
    if idem.replayed:
        return JSONResponse(idem.stored_response, status_code=idem.stored_status)
    national_id = confirmation.national_id_number  # normalised and checked (GB 11643)
    case = await session.get(SearchCase, case_id, with_for_update=True)
    if case is None:
        raise Problem(404, "Not found", "No such search case.")
    ensure_visible(principal, runtime.network, "search case", case.station_id)
    if case.status != "open":
        raise Problem(
            409,
            "Already identified",
            f"This person was identified on {case.identified_at:%Y-%m-%d}.",
        )
    claims = _claims(confirmation)
    needs_dna = any(c.kind is EvidenceKind.DNA_REVERIFIED for c in claims)
    refusal = evidence_refusal(
        claims, dna_reverified=needs_dna and await dna_hit_reverified(session, case.id)
    )
    if refusal is not None:
        if refusal.status == 409:
            raise Problem(
                409,
                "DNA hit not re-verified",
                f"{refusal.field}: {refusal.reason}.",
                type_="dna-not-reverified",
            )
        raise invalid(refusal.field, refusal.reason)
    report = None
    candidate = None
    if confirmation.candidate_id is not None:
        candidate = await session.get(
            IdentityCandidate, confirmation.candidate_id, with_for_update=True
        )
        if candidate is None or candidate.case_id != case.id:
            raise invalid("candidate_id", "is no candidate of this case")
        if candidate.status != "pending":
            raise invalid("candidate_id", f"is already {candidate.status}")
        report = await session.get(MissingPersonReport, candidate.report_id, with_for_update=True)
        if report.status != "open":
            raise invalid("candidate_id", "its missing-person report is already closed")

    now = datetime.now(UTC)
    method = IdentificationMethod(METHOD_BY_KIND[strongest([c.kind for c in claims])])
    case.status = "identified"
    case.identified_at = now
    case.identified_by = principal.subject
    case.method = method.value
    case.full_name = confirmation.full_name
    case.home_province = confirmation.home_province
    case.home_address = confirmation.home_address
    case.home_admin_code = confirmation.home_admin_code
    record = IdentityEvidence(
        case_id=case.id,
        national_id_number=national_id,
        evidence=[item.model_dump(mode="json") for item in confirmation.evidence],
        candidate_id=candidate.id if candidate else None,
        confirmed_by=principal.subject,
        confirmed_at=now,
    )
    session.add(record)
    if candidate is not None:
        candidate.status = "confirmed"
        candidate.reviewed_by = principal.subject
        candidate.reviewed_at = now
        report.status = "found"
        report.found_case_id = case.id
        report.closed_at = now
    # The person is found: the other candidates of the case (and of the report) go.
    superseded = IdentityCandidate.case_id == case.id
    if report is not None:
        superseded = superseded | (IdentityCandidate.report_id == report.id)
    await session.execute(
        update(IdentityCandidate)
        .where(superseded, IdentityCandidate.status == "pending")
        .values(status="superseded", reviewed_at=now)
    )
    await cancel_open_tasks(session, case.id)
    await index_case_names(session, case)  # the confirmed name joins the history
    await take_down_notices(session, runtime, case, "identity_confirmed")
    await runtime.outbox.stage(
        session,
        IdentityConfirmedV1(
            person_id=case.person_id,
            case_id=case.id,
            station_id=case.station_id,
            confirmed_at=now,
            confirmed_by=principal.subject,
            method=method,
            full_name=confirmation.full_name,
            home_province=confirmation.home_province,
            home_address=confirmation.home_address,
            home_admin_code=confirmation.home_admin_code,
            cross_province=runtime.network.is_cross_province(
                case.station_id, confirmation.home_province
            ),
            evidence_kinds=[c.kind.value for c in claims],
            missing_person_report_id=report.id if report else None,
        ),
    )
    await session.flush()
    view = _view(case, record, report.id if report else None)
    await idem.remember(session, 200, view.model_dump(mode="json"))
    await session.commit()
    return view


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
    query = (
        select(SearchCase, IdentityEvidence)
        .join(IdentityEvidence, IdentityEvidence.case_id == SearchCase.id)
        .where(IdentityEvidence.national_id_lookup == number)  # digested as it is bound
        .order_by(IdentityEvidence.confirmed_at)
        .limit(100)
    )
    if not sees_network(principal, runtime.network):
        query = query.where(SearchCase.station_id == principal.station_id)
    views = []
    for case, record in (await session.execute(query)).all():
        report_id = None
        if record.candidate_id is not None:
            report_id = await session.scalar(
                select(IdentityCandidate.report_id).where(
                    IdentityCandidate.id == record.candidate_id
                )
            )
        views.append(_view(case, record, report_id))
    return views


@router.get("/{case_id}/identity-confirmation", response_model=ConfirmedIdentityView)
async def confirmed_identity(
    case_id: uuid.UUID, principal: PrincipalDep, session: SessionDep, runtime: RuntimeDep
):
    """The confirmed identity with its evidence and national identity number."""
    case = await session.get(SearchCase, case_id)
    if case is None:
        raise Problem(404, "Not found", "No such search case.")
    ensure_visible(principal, runtime.network, "search case", case.station_id)
    record = await session.get(IdentityEvidence, case.id)
    if record is None:
        raise Problem(404, "Not found", "This case's identity is not confirmed here.")
    report_id = None
    if record.candidate_id is not None:
        report_id = await session.scalar(
            select(IdentityCandidate.report_id).where(IdentityCandidate.id == record.candidate_id)
        )
    return _view(case, record, report_id)


class EarlierStayRecognition(BaseModel):
    """A match (from the matching engine or by hand) that a specialist accepted."""

    model_config = ConfigDict(extra="forbid")

    earlier_person_id: uuid.UUID
    method: IdentificationMethod = Field(examples=["face_comparison"])
    similarity: StrictFloat | None = Field(default=None, ge=0, le=1)


class EarlierStayView(BaseModel):
    id: uuid.UUID
    case_id: uuid.UUID
    earlier_person_id: uuid.UUID
    method: str
    similarity: float | None
    recognised_at: datetime


@router.post("/{case_id}/earlier-stays", status_code=201, response_model=EarlierStayView)
async def recognise_earlier_stay(
    case_id: uuid.UUID,
    recognition: EarlierStayRecognition,
    principal: PrincipalDep,
    session: SessionDep,
    runtime: RuntimeDep,
):
    """The person was in the network's records before (`earlier_stay_recognised`):
    followup flags a returned person back on the street."""
    case = await session.get(SearchCase, case_id, with_for_update=True)
    if case is None:
        raise Problem(404, "Not found", "No such search case.")
    ensure_visible(principal, runtime.network, "search case", case.station_id)
    if recognition.earlier_person_id == case.person_id:
        raise invalid("earlier_person_id", "is this case's own person")
    if await session.scalar(
        select(EarlierStay.id).where(
            EarlierStay.case_id == case.id,
            EarlierStay.earlier_person_id == recognition.earlier_person_id,
        )
    ):
        raise Problem(409, "Already recognised", "This earlier stay is already on the case.")
    now = datetime.now(UTC)
    stay = EarlierStay(
        id=uuid.uuid4(),
        case_id=case.id,
        earlier_person_id=recognition.earlier_person_id,
        method=recognition.method.value,
        similarity=recognition.similarity,
        recognised_by=principal.subject,
        recognised_at=now,
    )
    session.add(stay)
    # the engine's suggestion for this person, if any, is settled by the recognition
    await session.execute(
        update(EarlierStaySuggestion)
        .where(
            EarlierStaySuggestion.case_id == case.id,
            EarlierStaySuggestion.earlier_person_id == recognition.earlier_person_id,
            EarlierStaySuggestion.status == "pending",
        )
        .values(status="accepted", reviewed_by=principal.subject, reviewed_at=now)
    )
    await runtime.outbox.stage(
        session,
        EarlierStayRecognisedV1(
            person_id=case.person_id,
            earlier_person_id=recognition.earlier_person_id,
            station_id=case.station_id,
            method=recognition.method,
            similarity=recognition.similarity,
            recognised_by=principal.subject,
            recognised_at=now,
        ),
    )
    view = EarlierStayView.model_validate(stay, from_attributes=True)
    await session.commit()
    return view
