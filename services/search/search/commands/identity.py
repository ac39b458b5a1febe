"""Confirming who a person is — by a reviewer, on evidence, optionally from a
candidate of the review queue — and recognising an earlier stay."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Literal

from pydantic import BaseModel, Field, StrictFloat, field_validator

from rescue_chassis.access import may_see
from rescue_chassis.commands import Command, UnitOfWork
from rescue_chassis.refusals import Conflict, Refused
from rescue_divisions.fields import HomeAdminCode, NationalIdNumber, home_in_province
from rescue_divisions.national_id import mask_national_id
from rescue_events.contracts import (
    EarlierStayRecognisedV1,
    IdentificationMethod,
    IdentityConfirmedV1,
)
from search import matching, notices
from search.commands.cases import CaseView
from search.evidence import METHOD_BY_KIND, EvidenceClaim, EvidenceKind, evidence_refusal, strongest
from search.police import SampleStatus
from search.tables import DnaSample
from search.tables.core import EarlierStay, EarlierStaySuggestion, SearchCase
from search.tables.evidence import IdentityCandidate, IdentityEvidence, MissingPersonReport
from search.tasks import cancel_open_tasks


class SelfReportVerified(Command):
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


class PoliceCheck(Command):
    kind: Literal["police_check"] = Field(
        description="The police answered an identity check.", examples=["police_check"]
    )
    reference: str = Field(
        min_length=1,
        max_length=200,
        description="The police answer's reference (the police-check record, for now free).",
        examples=["固公(城关)核查〔2026〕1123号"],
    )


class DnaReverified(Command):
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


class FaceMatchWithFamilyConfirmation(Command):
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


class IdentityConfirmation(Command):
    """Who the person is, where home is, and the evidence it rests on."""

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


class ConfirmIdentity(IdentityConfirmation):
    case_id: uuid.UUID


class ConfirmedIdentityView(CaseView):
    evidence: list[dict]
    national_id_number: str | None
    candidate_id: uuid.UUID | None
    missing_person_report_id: uuid.UUID | None


def _shown(uow: UnitOfWork, number: str | None) -> str | None:
    """The national ID in full for the reviewers; masked for the rest of the case's
    staff (rescue_chassis.access.SENSITIVE)."""
    if number is None or may_see("national_id_number", uow.actor):
        return number
    return mask_national_id(number)


async def confirmed_view(
    uow: UnitOfWork, case: SearchCase, record: IdentityEvidence
) -> ConfirmedIdentityView:
    """The case with its confirmed identity, as the caller may see it."""
    report_id = None
    if record.candidate_id is not None:
        candidate = await uow.get(IdentityCandidate, record.candidate_id)
        report_id = candidate.report_id if candidate else None
    return ConfirmedIdentityView(
        **CaseView.of(case).model_dump(exclude={"notice_overdue"}),
        evidence=record.evidence,
        national_id_number=_shown(uow, record.national_id_number),
        candidate_id=record.candidate_id,
        missing_person_report_id=report_id,
    )


async def confirm_identity(command: ConfirmIdentity, uow: UnitOfWork) -> ConfirmedIdentityView:
    """A reviewer confirms who the person is, on evidence (`identity_confirmed`). The
    case's open tasks are cancelled, its notices come down, its other candidates (and
    the confirmed report's) are superseded."""
    case = await uow.load(SearchCase, command.case_id, what="search case", lock=True)
    if case.status != "open":
        raise Conflict(
            "Already identified", f"This person was identified on {case.identified_at:%Y-%m-%d}."
        )
    claims = [
        EvidenceClaim(
            kind=EvidenceKind(item.kind),
            reference=getattr(item, "reference", None),
            note=getattr(item, "note", None),
        )
        for item in command.evidence
    ]
    await _refuse_weak_evidence(uow, case, claims)
    candidate, report = await _candidate_of(uow, case, command.candidate_id)

    now, subject = uow.now, uow.actor.subject
    method = IdentificationMethod(METHOD_BY_KIND[strongest([c.kind for c in claims])])
    case.status = "identified"
    case.identified_at = now
    case.identified_by = subject
    case.method = method.value
    case.full_name = command.full_name
    case.home_province = command.home_province
    case.home_address = command.home_address
    case.home_admin_code = command.home_admin_code
    record = IdentityEvidence(
        case_id=case.id,
        national_id_number=command.national_id_number,  # normalised and checked (GB 11643)
        evidence=[item.model_dump(mode="json") for item in command.evidence],
        candidate_id=candidate.id if candidate else None,
        confirmed_by=subject,
        confirmed_at=now,
    )
    uow.add(record)
    if candidate is not None:
        candidate.status = "confirmed"
        candidate.reviewed_by = subject
        candidate.reviewed_at = now
        report.status = "found"
        report.found_case_id = case.id
        report.closed_at = now
    await _supersede_other_candidates(uow, case, report)
    await cancel_open_tasks(uow, case.id)
    await matching.index_case_names(uow, case)  # the confirmed name joins the history
    await notices.take_down_notices(uow, case, "identity_confirmed")
    await uow.publish(
        IdentityConfirmedV1(
            person_id=case.person_id,
            case_id=case.id,
            station_id=case.station_id,
            confirmed_at=now,
            confirmed_by=subject,
            method=method,
            full_name=command.full_name,
            home_province=command.home_province,
            home_address=command.home_address,
            home_admin_code=command.home_admin_code,
            cross_province=uow.network.is_cross_province(case.station_id, command.home_province),
            evidence_kinds=[c.kind.value for c in claims],
            missing_person_report_id=report.id if report else None,
        )
    )
    await uow.flush()
    return await confirmed_view(uow, case, record)


async def _refuse_weak_evidence(
    uow: UnitOfWork, case: SearchCase, claims: list[EvidenceClaim]
) -> None:
    """A 422 for evidence that is wrong as given; a 409 for a DNA hit not re-verified."""
    reverified = False
    if any(c.kind is EvidenceKind.DNA_REVERIFIED for c in claims):
        confirmed = SampleStatus.HIT_CONFIRMED.value
        reverified = bool(await uow.find(DnaSample, case_id=case.id, status=confirmed))
    refusal = evidence_refusal(claims, dna_reverified=reverified)
    if refusal is None:
        return
    if refusal.status == 409:
        raise Conflict(
            "DNA hit not re-verified",
            f"{refusal.field}: {refusal.reason}.",
            type_="dna-not-reverified",
        )
    raise Refused(refusal.field, refusal.reason)


async def _candidate_of(
    uow: UnitOfWork, case: SearchCase, candidate_id: uuid.UUID | None
) -> tuple[IdentityCandidate | None, MissingPersonReport | None]:
    """The pending candidate of this case the confirmation names, with its open report."""
    if candidate_id is None:
        return None, None
    candidate = await uow.get(IdentityCandidate, candidate_id, lock=True)
    if candidate is None or candidate.case_id != case.id:
        raise Refused("candidate_id", "is no candidate of this case")
    if candidate.status != "pending":
        raise Refused("candidate_id", f"is already {candidate.status}")
    report = await uow.get(MissingPersonReport, candidate.report_id, lock=True)
    if report.status != "open":
        raise Refused("candidate_id", "its missing-person report is already closed")
    return candidate, report


async def _supersede_other_candidates(
    uow: UnitOfWork, case: SearchCase, report: MissingPersonReport | None
) -> None:
    """The person is found: the other pending candidates of the case (and of the
    report) go."""
    pending = await uow.find(IdentityCandidate, case_id=case.id, status="pending", lock=True)
    if report is not None:
        pending += await uow.find(
            IdentityCandidate, report_id=report.id, status="pending", lock=True
        )
    for candidate in pending:
        candidate.status = "superseded"
        candidate.reviewed_at = uow.now


# ---- earlier stays ---------------------------------------------------------------


class EarlierStayRecognition(Command):
    """A match (from the matching engine or by hand) that a specialist accepted."""

    earlier_person_id: uuid.UUID
    method: IdentificationMethod = Field(examples=["face_comparison"])
    similarity: StrictFloat | None = Field(default=None, ge=0, le=1)


class RecogniseEarlierStay(EarlierStayRecognition):
    case_id: uuid.UUID


class EarlierStayView(BaseModel):
    id: uuid.UUID
    case_id: uuid.UUID
    earlier_person_id: uuid.UUID
    method: str
    similarity: float | None
    recognised_at: datetime


async def recognise_earlier_stay(command: RecogniseEarlierStay, uow: UnitOfWork) -> EarlierStayView:
    """The person was in the network's records before (`earlier_stay_recognised`); the
    engine's pending suggestion for that person, if any, is accepted with it."""
    case = await uow.load(SearchCase, command.case_id, what="search case", lock=True)
    earlier = command.earlier_person_id
    if earlier == case.person_id:
        raise Refused("earlier_person_id", "is this case's own person")
    if await uow.find(EarlierStay, case_id=case.id, earlier_person_id=earlier):
        raise Conflict("Already recognised", "This earlier stay is already on the case.")
    stay = EarlierStay(
        id=uuid.uuid4(),
        case_id=case.id,
        earlier_person_id=earlier,
        method=command.method.value,
        similarity=command.similarity,
        recognised_by=uow.actor.subject,
        recognised_at=uow.now,
    )
    uow.add(stay)
    for suggestion in await uow.find(
        EarlierStaySuggestion, case_id=case.id, earlier_person_id=earlier, status="pending"
    ):
        suggestion.status = "accepted"
        suggestion.reviewed_by = uow.actor.subject
        suggestion.reviewed_at = uow.now
    await uow.publish(
        EarlierStayRecognisedV1(
            person_id=case.person_id,
            earlier_person_id=earlier,
            station_id=case.station_id,
            method=command.method,
            similarity=command.similarity,
            recognised_by=uow.actor.subject,
            recognised_at=uow.now,
        )
    )
    return EarlierStayView.model_validate(stay, from_attributes=True)
