"""Families' missing-person reports (走失人员家属提供信息), matched against the
admitted persons as they are filed; a reviewer's no to a candidate pair; the
identification figures of a station."""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from datetime import datetime
from typing import Annotated, Any

from pydantic import BaseModel, Field, StrictInt, model_validator

from rescue_chassis.access import can_see, ensure_known_station
from rescue_chassis.commands import Command, UnitOfWork
from rescue_chassis.moments import PastInstant
from rescue_chassis.refusals import Conflict, NotFound, Refused
from rescue_events.contracts import Sex
from rescue_events.contracts.search_evidence import IdentityCandidateRejectedV1
from search import statements
from search.evidence import median
from search.tables.core import SearchCase
from search.tables.evidence import IdentityCandidate, MissingPersonReport
from search.visibility import may_see_candidate

# ---- missing-person reports -------------------------------------------------------


class MissingPersonReportIn(Command):
    """A family's report; give the age or the birth year."""

    reported_name: str = Field(
        min_length=1, max_length=100, description="The missing person's name.", examples=["李建国"]
    )
    sex: Sex = Field(description="The missing person's sex.", examples=["male"])
    age: StrictInt | None = Field(
        default=None, ge=0, le=120, description="Age when reported.", examples=[62]
    )
    birth_year: StrictInt | None = Field(
        default=None, ge=1900, le=2100, description="Year of birth.", examples=[1964]
    )
    description: str | None = Field(
        default=None,
        max_length=2000,
        description="Appearance, clothes, health, habits.",
        examples=["身高约1米65,偏瘦,左眉有痣,患阿尔茨海默病"],
    )
    last_seen_place: str = Field(
        min_length=1,
        max_length=300,
        description="Where the person was last seen.",
        examples=["四川省南充市仪陇县新政镇"],
    )
    last_seen_at: PastInstant | None = Field(
        default=None,
        description="When the person was last seen.",
        examples=["2026-10-02T08:00:00+08:00"],
    )
    home_place: str | None = Field(
        default=None,
        max_length=300,
        description="Where the person lives, if not where last seen.",
        examples=["四川省南充市仪陇县"],
    )
    contact_name: str = Field(
        min_length=1, max_length=100, description="Who to call back.", examples=["李小红"]
    )
    contact_phone: str = Field(
        pattern=r"^\+?[0-9][0-9\- ]{5,28}$",
        description="The contact's phone number.",
        examples=["13800138000"],
    )
    photo_refs: list[Annotated[str, Field(min_length=1, max_length=500)]] = Field(
        default_factory=list,
        max_length=10,
        description="References to photos kept elsewhere (no images here).",
        examples=[["photo-store://reports/2026/11/abc.jpg"]],
    )
    reporting_station_id: str | None = Field(
        default=None,
        max_length=64,
        description="The station the family reported to; the caller's when not given "
        "(only the center files for another station).",
        examples=["gushi"],
    )

    @model_validator(mode="after")
    def _age_or_birth_year(self) -> MissingPersonReportIn:
        if self.age is None and self.birth_year is None:
            raise ValueError("give age or birth_year")
        return self


class MissingPersonReportView(BaseModel):
    id: uuid.UUID
    station_id: str
    status: str
    reported_name: str
    sex: str
    age: int | None
    birth_year: int | None
    description: str | None
    last_seen_place: str
    last_seen_at: datetime | None
    home_place: str | None
    contact_name: str
    contact_phone: str
    photo_refs: list[str]
    reported_at: datetime
    found_case_id: uuid.UUID | None
    closed_at: datetime | None


async def file_report(command: MissingPersonReportIn, uow: UnitOfWork) -> MissingPersonReportView:
    """A family's report, matched at once against every open case of the network;
    candidates go to the review queue, nothing is merged."""
    ensure_known_station(uow.actor, uow.network)
    station = command.reporting_station_id or uow.actor.station_id
    if uow.network.station(station) is None:
        raise Refused("reporting_station_id", f"{station!r} is no station of this network")
    if not can_see(uow.actor, uow.network, station):
        raise Refused("reporting_station_id", "a satellite files reports for itself only")
    if command.birth_year is not None and command.birth_year > uow.now.year:
        raise Refused("birth_year", "lies in the future")
    if command.last_seen_at is not None and command.last_seen_at > uow.now:
        raise Refused("last_seen_at", "lies in the future")
    report = MissingPersonReport(
        id=uuid.uuid4(),
        station_id=station,
        status="open",
        reported_name=command.reported_name,
        sex=command.sex.value,
        age=command.age,
        birth_year=command.birth_year,
        description=command.description,
        last_seen_place=command.last_seen_place,
        last_seen_at=command.last_seen_at,
        home_place=command.home_place,
        contact_name=command.contact_name,
        contact_phone=command.contact_phone,
        photo_refs=command.photo_refs,
        reported_by=uow.actor.subject,
        reported_at=uow.now,
    )
    uow.add(report)
    await uow.flush()
    await statements.index_report(uow, report)
    await statements.match_report(uow, report)
    return MissingPersonReportView.model_validate(report, from_attributes=True)


# ---- the review ---------------------------------------------------------------------


class CandidateView(BaseModel):
    id: uuid.UUID
    status: str
    score: float
    reasons: list[str]
    explanation: list[dict] = Field(
        description="Field by field (face, name, place, age, sex): verdict match, close, "
        "mismatch or unknown, a 0..1 score when both sides know it, and the detail."
    )
    proposed_at: datetime
    reviewed_at: datetime | None
    rejection_reason: str | None
    case_id: uuid.UUID
    person_id: uuid.UUID
    station_id: str
    stated_names: str | None
    stated_places: str | None
    dialect: str | None
    report: MissingPersonReportView


def candidate_view(
    candidate: IdentityCandidate, case: SearchCase, report: MissingPersonReport
) -> CandidateView:
    return CandidateView(
        id=candidate.id,
        status=candidate.status,
        score=candidate.score,
        reasons=candidate.reasons,
        explanation=candidate.explanation,
        proposed_at=candidate.proposed_at,
        reviewed_at=candidate.reviewed_at,
        rejection_reason=candidate.rejection_reason,
        case_id=case.id,
        person_id=case.person_id,
        station_id=case.station_id,
        stated_names=case.stated_names,
        stated_places=case.stated_places,
        dialect=case.dialect,
        report=MissingPersonReportView.model_validate(report, from_attributes=True),
    )


class CandidateRejection(Command):
    reason: str = Field(
        min_length=1,
        max_length=500,
        description="Why the report and the person are not the same.",
        examples=["家属看照片后确认不是本人;年龄相差较大"],
    )


class RejectCandidate(CandidateRejection):
    candidate_id: uuid.UUID


async def reject_candidate(command: RejectCandidate, uow: UnitOfWork) -> CandidateView:
    """Not the same person (`identity_candidate_rejected`): the pair is not proposed again."""
    candidate = await uow.get(IdentityCandidate, command.candidate_id, lock=True)
    if candidate is None or not may_see_candidate(
        uow.actor,
        uow.network,
        candidate.station_id,
        candidate.report_station_id,
        protected=await statements.is_protected(uow, candidate.case_id),
    ):
        raise NotFound("candidate")
    if candidate.status != "pending":
        raise Conflict("Already reviewed", f"This candidate is already {candidate.status}.")
    case = await uow.get(SearchCase, candidate.case_id)
    report = await uow.get(MissingPersonReport, candidate.report_id)
    candidate.status = "rejected"
    candidate.reviewed_by = uow.actor.subject
    candidate.reviewed_at = uow.now
    candidate.rejection_reason = command.reason
    await uow.publish(
        IdentityCandidateRejectedV1(
            person_id=case.person_id,
            case_id=case.id,
            candidate_id=candidate.id,
            missing_person_report_id=report.id,
            station_id=case.station_id,
            rejected_by=uow.actor.subject,
            rejected_at=uow.now,
        )
    )
    return candidate_view(candidate, case, report)


# ---- figures ----------------------------------------------------------------------


class IdentificationFigures(BaseModel):
    station_id: str
    period_start: datetime
    period_end: datetime
    cases_opened: int = Field(description="Cases opened in the period.")
    identified: int = Field(description="Of those, identified by the end of the period.")
    identification_rate: float | None = Field(description="identified / cases_opened.")
    median_hours_to_identify: float | None = Field(
        description="From arrival to confirmed identity, over the identified ones."
    )
    identified_in_period: int = Field(
        description="Identities confirmed in the period, whenever the case opened."
    )


def station_figures(
    station: str, rows: Iterable[Any], period_start: datetime, period_end: datetime
) -> IdentificationFigures:
    """One station's figures from cases (station_id, arrived_at, opened_at,
    identified_at) opened or identified in [period_start, period_end)."""
    mine = [r for r in rows if r.station_id == station]
    cohort = [r for r in mine if period_start <= r.opened_at < period_end]
    found = [r for r in cohort if r.identified_at is not None and r.identified_at < period_end]
    middle = median([(r.identified_at - r.arrived_at).total_seconds() / 3600 for r in found])
    return IdentificationFigures(
        station_id=station,
        period_start=period_start,
        period_end=period_end,
        cases_opened=len(cohort),
        identified=len(found),
        identification_rate=round(len(found) / len(cohort), 4) if cohort else None,
        median_hours_to_identify=round(middle, 2) if middle is not None else None,
        identified_in_period=sum(
            1
            for r in mine
            if r.identified_at is not None and period_start <= r.identified_at < period_end
        ),
    )
