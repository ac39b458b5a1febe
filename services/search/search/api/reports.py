"""Missing-person reports from families (走失人员家属提供信息), matched against the
admitted persons in both directions; the review queue of candidates; the
identification figures."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Query

from rescue_chassis.access import REVIEWERS, SEARCH_WORK
from rescue_chassis.auth import PrincipalDep, require_roles
from rescue_chassis.commands import Run, UnitOfWork, load
from rescue_chassis.db import SessionDep
from rescue_chassis.moments import PeriodInstant, ensure_period
from rescue_chassis.runtime import RuntimeDep
from search import queries
from search.commands import reports
from search.commands.reports import (
    CandidateRejection,
    CandidateView,
    IdentificationFigures,
    MissingPersonReportIn,
    MissingPersonReportView,
)
from search.tables.evidence import MissingPersonReport

router = APIRouter(
    tags=["missing-person reports and review"], dependencies=[require_roles(*SEARCH_WORK)]
)


# ---- missing-person reports -------------------------------------------------------


@router.post("/missing-person-reports", status_code=201, response_model=MissingPersonReportView)
async def file_report(report_in: MissingPersonReportIn, run: Run):
    """File a family's report. It is matched at once against every open case of the
    network; later admissions and clues are matched against it as they come.
    Candidates go to the review queue; nothing is merged."""
    return await run(reports.file_report, report_in)


@router.get("/missing-person-reports", response_model=list[MissingPersonReportView])
async def list_reports(
    principal: PrincipalDep,
    session: SessionDep,
    runtime: RuntimeDep,
    status: Annotated[str | None, Query(pattern="^(open|found)$")] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
):
    """Reports filed at the caller's station (the center sees all), newest first."""
    return await queries.reports(UnitOfWork(session, runtime, principal), status, limit)


@router.get("/missing-person-reports/{report_id}", response_model=MissingPersonReportView)
async def get_report(
    report_id: uuid.UUID, principal: PrincipalDep, session: SessionDep, runtime: RuntimeDep
):
    report = await load(
        session, runtime, principal, MissingPersonReport, report_id, what="missing-person report"
    )
    return MissingPersonReportView.model_validate(report, from_attributes=True)


# ---- the review queue -------------------------------------------------------------


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
    reading = UnitOfWork(session, runtime, principal)
    return await queries.review_queue(reading, case_id, report_id, status, limit)


@router.post(
    "/candidates/{candidate_id}/rejection",
    response_model=CandidateView,
    dependencies=[require_roles(*REVIEWERS)],
)
async def reject_candidate(candidate_id: uuid.UUID, rejection: CandidateRejection, run: Run):
    """Not the same person (`identity_candidate_rejected`); the pair is not proposed
    again. Needs a search specialist, station lead or center coordinator."""
    return await run(
        reports.reject_candidate,
        reports.RejectCandidate(candidate_id=candidate_id, reason=rejection.reason),
    )


# ---- figures ----------------------------------------------------------------------


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
    reading = UnitOfWork(session, runtime, principal)
    return await queries.identification_figures(reading, period_start, period_end)
