"""Missing-person reports from families (走失人员家属提供信息), matched against the
admitted persons in both directions; the review queue of candidates; the
identification figures."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Annotated

from fastapi import APIRouter, Query
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field, StrictInt, model_validator
from sqlalchemy import or_, select

from rescue_chassis.access import (
    REVIEWERS,
    SEARCH_WORK,
    can_see,
    ensure_known_station,
    ensure_visible,
    sees_network,
)
from rescue_chassis.auth import PrincipalDep, require_roles
from rescue_chassis.db import SessionDep
from rescue_chassis.idempotency import IdempotencyKey, IdempotentRequest
from rescue_chassis.moments import PastInstant, PeriodInstant, ensure_period
from rescue_chassis.problems import Problem, invalid
from rescue_chassis.runtime import RuntimeDep
from rescue_events.contracts import Sex
from rescue_events.contracts.search_evidence import IdentityCandidateRejectedV1
from search.evidence import median
from search.matching import index_report_name, match_report
from search.tables import tables
from search.tables.core import SearchCase
from search.tables.evidence import IdentityCandidate, MissingPersonReport
from search.visibility import candidate_scope, may_see_candidate, protected_cases

router = APIRouter(
    tags=["missing-person reports and review"], dependencies=[require_roles(*SEARCH_WORK)]
)


# ---- missing-person reports -------------------------------------------------------


class MissingPersonReportIn(BaseModel):
    """A family's report; give the age or the birth year."""

    model_config = ConfigDict(extra="forbid")

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


@router.post("/missing-person-reports", status_code=201, response_model=MissingPersonReportView)
async def file_report(
    report_in: MissingPersonReportIn,
    principal: PrincipalDep,
    session: SessionDep,
    runtime: RuntimeDep,
    idempotency_key: IdempotencyKey = None,
):
    """File a family's report. It is matched at once against every open case of the
    network; later admissions and clues are matched against it as they come.
    Candidates go to the review queue; nothing is merged."""
    idem = await IdempotentRequest.check(
        session, tables.idempotency, idempotency_key, principal, report_in
    )
    if idem.replayed:
        return JSONResponse(idem.stored_response, status_code=idem.stored_status)
    ensure_known_station(principal, runtime.network)
    station = report_in.reporting_station_id or principal.station_id
    if runtime.network.station(station) is None:
        raise invalid("reporting_station_id", f"{station!r} is no station of this network")
    if not can_see(principal, runtime.network, station):
        raise invalid("reporting_station_id", "a satellite files reports for itself only")
    now = datetime.now(UTC)
    if report_in.birth_year is not None and report_in.birth_year > now.year:
        raise invalid("birth_year", "lies in the future")
    if report_in.last_seen_at is not None and report_in.last_seen_at > now:
        raise invalid("last_seen_at", "lies in the future")
    report = MissingPersonReport(
        id=uuid.uuid4(),
        station_id=station,
        status="open",
        reported_name=report_in.reported_name,
        sex=report_in.sex.value,
        age=report_in.age,
        birth_year=report_in.birth_year,
        description=report_in.description,
        last_seen_place=report_in.last_seen_place,
        last_seen_at=report_in.last_seen_at,
        home_place=report_in.home_place,
        contact_name=report_in.contact_name,
        contact_phone=report_in.contact_phone,
        photo_refs=report_in.photo_refs,
        reported_by=principal.subject,
        reported_at=now,
    )
    session.add(report)
    await session.flush()
    await index_report_name(session, report)
    await match_report(session, runtime, report)
    view = MissingPersonReportView.model_validate(report, from_attributes=True)
    await idem.remember(session, 201, view.model_dump(mode="json"))
    await session.commit()
    return view


@router.get("/missing-person-reports", response_model=list[MissingPersonReportView])
async def list_reports(
    principal: PrincipalDep,
    session: SessionDep,
    runtime: RuntimeDep,
    status: Annotated[str | None, Query(pattern="^(open|found)$")] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
):
    """Reports filed at the caller's station (the center sees all), newest first."""
    query = (
        select(MissingPersonReport).order_by(MissingPersonReport.reported_at.desc()).limit(limit)
    )
    if not sees_network(principal, runtime.network):
        query = query.where(MissingPersonReport.station_id == principal.station_id)
    if status:
        query = query.where(MissingPersonReport.status == status)
    return [
        MissingPersonReportView.model_validate(r, from_attributes=True)
        for r in (await session.scalars(query)).all()
    ]


@router.get("/missing-person-reports/{report_id}", response_model=MissingPersonReportView)
async def get_report(
    report_id: uuid.UUID, principal: PrincipalDep, session: SessionDep, runtime: RuntimeDep
):
    report = await session.get(MissingPersonReport, report_id)
    if report is None:
        raise Problem(404, "Not found", "No such missing-person report.")
    ensure_visible(principal, runtime.network, "missing-person report", report.station_id)
    return MissingPersonReportView.model_validate(report, from_attributes=True)


# ---- the review queue -------------------------------------------------------------


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


def _candidate_view(
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


@router.get("/review-queue", response_model=list[CandidateView])
async def review_queue(
    principal: PrincipalDep,
    session: SessionDep,
    runtime: RuntimeDep,
    case_id: uuid.UUID | None = None,
    report_id: uuid.UUID | None = None,
    status: Annotated[str, Query(pattern="^(pending|rejected|confirmed|superseded)$")] = "pending",
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
):
    """Candidates waiting for review, best score first: those for persons the caller's
    station cares for or for reports filed there, unless the person is protected (the
    center sees all)."""
    query = (
        select(IdentityCandidate, SearchCase, MissingPersonReport)
        .join(SearchCase, SearchCase.id == IdentityCandidate.case_id)
        .join(MissingPersonReport, MissingPersonReport.id == IdentityCandidate.report_id)
        .where(IdentityCandidate.status == status)
        .order_by(IdentityCandidate.score.desc(), IdentityCandidate.proposed_at)
        .limit(limit)
    )
    if (scope := candidate_scope(principal, runtime.network)) is not None:
        query = query.where(scope)
    if case_id:
        query = query.where(IdentityCandidate.case_id == case_id)
    if report_id:
        query = query.where(IdentityCandidate.report_id == report_id)
    rows = (await session.execute(query)).all()
    return [_candidate_view(c, case, r) for c, case, r in rows]


class CandidateRejection(BaseModel):
    model_config = ConfigDict(extra="forbid")

    reason: str = Field(
        min_length=1,
        max_length=500,
        description="Why the report and the person are not the same.",
        examples=["家属看照片后确认不是本人;年龄相差较大"],
    )


@router.post(
    "/candidates/{candidate_id}/rejection",
    response_model=CandidateView,
    dependencies=[require_roles(*REVIEWERS)],
)
async def reject_candidate(
    candidate_id: uuid.UUID,
    rejection: CandidateRejection,
    principal: PrincipalDep,
    session: SessionDep,
    runtime: RuntimeDep,
):
    """Not the same person (`identity_candidate_rejected`); the pair is not proposed
    again. Needs a search specialist, station lead or center coordinator."""
    candidate = await session.get(IdentityCandidate, candidate_id, with_for_update=True)
    if candidate is None or not may_see_candidate(
        principal,
        runtime.network,
        candidate.station_id,
        candidate.report_station_id,
        protected=bool(await protected_cases(session, [candidate.case_id])),
    ):
        raise Problem(404, "Not found", "No such candidate.")
    if candidate.status != "pending":
        raise Problem(409, "Already reviewed", f"This candidate is already {candidate.status}.")
    case = await session.get(SearchCase, candidate.case_id)
    report = await session.get(MissingPersonReport, candidate.report_id)
    now = datetime.now(UTC)
    candidate.status = "rejected"
    candidate.reviewed_by = principal.subject
    candidate.reviewed_at = now
    candidate.rejection_reason = rejection.reason
    await runtime.outbox.stage(
        session,
        IdentityCandidateRejectedV1(
            person_id=case.person_id,
            case_id=case.id,
            candidate_id=candidate.id,
            missing_person_report_id=report.id,
            station_id=case.station_id,
            rejected_by=principal.subject,
            rejected_at=now,
        ),
    )
    view = _candidate_view(candidate, case, report)
    await session.commit()
    return view


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


@router.get("/figures/identification", response_model=list[IdentificationFigures])
async def identification_figures(
    principal: PrincipalDep,
    session: SessionDep,
    runtime: RuntimeDep,
    period_start: PeriodInstant,
    period_end: PeriodInstant,
):
    """The identification rate per station, the key result of search: of the cases
    opened in [period_start, period_end), how many were identified by its end, and
    how fast. A satellite sees its own station, the center every station."""
    ensure_period(period_start, period_end, end_inclusive=False)
    everyone = sees_network(principal, runtime.network)
    stations = sorted(runtime.network.stations) if everyone else [principal.station_id]
    query = select(
        SearchCase.station_id, SearchCase.arrived_at, SearchCase.opened_at, SearchCase.identified_at
    ).where(
        or_(
            (SearchCase.opened_at >= period_start) & (SearchCase.opened_at < period_end),
            (SearchCase.identified_at >= period_start) & (SearchCase.identified_at < period_end),
        )
    )
    if not everyone:
        query = query.where(SearchCase.station_id == principal.station_id)
    rows = (await session.execute(query)).all()
    figures = []
    for station in stations:
        mine = [r for r in rows if r.station_id == station]
        cohort = [r for r in mine if period_start <= r.opened_at < period_end]
        found = [r for r in cohort if r.identified_at is not None and r.identified_at < period_end]
        hours = [(r.identified_at - r.arrived_at).total_seconds() / 3600 for r in found]
        middle = median(hours)
        figures.append(
            IdentificationFigures(
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
        )
    return figures
