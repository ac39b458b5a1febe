"""What search's reading routes ask: each query in the caller's scope
(search.visibility), and its answer shaped into the views. ``uow`` is a reading
unit of work (its session, its actor, its network, its now)."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any, Literal

from pydantic import BaseModel, Field, computed_field
from sqlalchemy import or_, select

from rescue_chassis.access import sees_network
from rescue_chassis.commands import UnitOfWork
from rescue_chassis.refusals import NotFound
from search.commands.cases import CaseView
from search.commands.clues import ClueView
from search.commands.faces import SuggestionView, suggestion_views
from search.commands.identity import ConfirmedIdentityView, confirmed_view
from search.commands.notices import NoticeView
from search.commands.police import DnaSampleView, PoliceCheckView
from search.commands.reports import (
    CandidateView,
    IdentificationFigures,
    MissingPersonReportView,
    candidate_view,
    station_figures,
)
from search.names import find_names
from search.places import gazetteer
from search.police import SampleStatus
from search.tables import DnaSample, PoliceCheck, SearchCase, SearchTask
from search.tables.core import EarlierStaySuggestion
from search.tables.evidence import Clue, IdentityCandidate, IdentityEvidence, MissingPersonReport
from search.tables.notices import SearchNotice
from search.visibility import candidate_scope, case_stations, readable_by, readable_case

# ---- cases and their tasks -------------------------------------------------------


class TaskView(BaseModel):
    id: uuid.UUID
    case_id: uuid.UUID
    station_id: str
    kind: str
    status: str
    due_at: datetime
    done_at: datetime | None
    overdue_at: datetime | None = None
    closed_reason: str | None = None

    @computed_field
    @property
    def overdue(self) -> bool:
        return self.status == "open" and datetime.now(UTC) > self.due_at


async def cases(
    uow: UnitOfWork,
    status: str | None,
    person_id: uuid.UUID | None,
    overdue: bool,
    limit: int,
) -> list[CaseView]:
    """Cases in the caller's scope, the earliest notice deadline first; ``overdue``:
    open cases whose family-search notice is past its deadline."""
    query = select(SearchCase).order_by(SearchCase.notice_due_at).limit(limit)
    if (stations := case_stations(uow.actor, uow.network)) is not None:
        query = query.where(readable_by(stations))  # its stations now and before
    if status:
        query = query.where(SearchCase.status == status)
    if person_id:
        query = query.where(SearchCase.person_id == person_id)
    if overdue:
        query = query.where(
            SearchCase.status == "open",
            SearchCase.notice_published_at.is_(None),
            SearchCase.notice_due_at < uow.now,
        )
    return [CaseView.of(c) for c in (await uow.session.scalars(query)).all()]


async def case_tasks(uow: UnitOfWork, case_id: uuid.UUID) -> list[TaskView]:
    """A case's tasks, the earliest deadline first; a 404 outside the caller's scope."""
    await readable_case(uow, case_id)
    tasks = await uow.session.scalars(
        select(SearchTask).where(SearchTask.case_id == case_id).order_by(SearchTask.due_at)
    )
    return [TaskView.model_validate(t, from_attributes=True) for t in tasks.all()]


async def overdue_tasks(uow: UnitOfWork, kind: str | None) -> list[TaskView]:
    """Open tasks past their deadline, of the caller's station (the center: all),
    oldest first."""
    query = (
        select(SearchTask)
        .where(SearchTask.status == "open", SearchTask.due_at < uow.now)
        .order_by(SearchTask.due_at)
    )
    if not sees_network(uow.actor, uow.network):
        query = query.where(SearchTask.station_id == uow.actor.station_id)
    if kind:
        query = query.where(SearchTask.kind == kind)
    return [
        TaskView.model_validate(t, from_attributes=True)
        for t in (await uow.session.scalars(query)).all()
    ]


async def open_tasks(uow: UnitOfWork, kind: str | None, limit: int) -> list[TaskView]:
    """Open tasks of the caller's station (the center: all), due or not, the earliest
    deadline first: a board's deadlines in one read."""
    query = select(SearchTask).where(SearchTask.status == "open").order_by(SearchTask.due_at)
    if not sees_network(uow.actor, uow.network):
        query = query.where(SearchTask.station_id == uow.actor.station_id)
    if kind:
        query = query.where(SearchTask.kind == kind)
    return [
        TaskView.model_validate(t, from_attributes=True)
        for t in (await uow.session.scalars(query.limit(limit))).all()
    ]


async def clues(uow: UnitOfWork, case_id: uuid.UUID) -> list[ClueView]:
    """A case's clues in the order they were noted."""
    await readable_case(uow, case_id)
    found = await uow.session.scalars(
        select(Clue).where(Clue.case_id == case_id).order_by(Clue.noted_at, Clue.recorded_at)
    )
    return [ClueView.model_validate(c, from_attributes=True) for c in found.all()]


async def notices(uow: UnitOfWork, case_id: uuid.UUID) -> list[NoticeView]:
    """A case's notices with their status, oldest first."""
    await readable_case(uow, case_id)
    found = await uow.session.scalars(
        select(SearchNotice)
        .where(SearchNotice.case_id == case_id)
        .order_by(SearchNotice.requested_at, SearchNotice.region)
    )
    return [NoticeView.of(n) for n in found.all()]


# ---- police ----------------------------------------------------------------------


class CasePoliceView(BaseModel):
    case_id: uuid.UUID
    checks: list[PoliceCheckView]
    dna_samples: list[DnaSampleView]
    dna_reverified: bool = Field(
        description="A DNA hit was re-verified with a fresh sample: only then is it trusted."
    )


async def case_police(uow: UnitOfWork, case_id: uuid.UUID) -> CasePoliceView:
    """A case's police checks and DNA samples, and whether a DNA hit was re-verified."""
    case = await readable_case(uow, case_id)
    checks = await uow.session.scalars(
        select(PoliceCheck).where(PoliceCheck.case_id == case.id).order_by(PoliceCheck.requested_at)
    )
    samples = (
        await uow.session.scalars(
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


# ---- identities ------------------------------------------------------------------


async def confirmed_identities(uow: UnitOfWork, number: str) -> list[ConfirmedIdentityView]:
    """Confirmed identities with this national identity number (found by its blind
    index), of the cases in the caller's scope, the earliest confirmed first."""
    query = (
        select(SearchCase, IdentityEvidence)
        .join(IdentityEvidence, IdentityEvidence.case_id == SearchCase.id)
        .where(IdentityEvidence.national_id_lookup == number)  # digested as it is bound
        .order_by(IdentityEvidence.confirmed_at)
        .limit(100)
    )
    if (stations := case_stations(uow.actor, uow.network)) is not None:
        query = query.where(readable_by(stations))  # its stations now and before
    found = (await uow.session.execute(query)).all()
    return [await confirmed_view(uow, case, record) for case, record in found]


async def confirmed_identity(uow: UnitOfWork, case_id: uuid.UUID) -> ConfirmedIdentityView:
    """A case's confirmed identity; a 404 outside the caller's scope or before it."""
    case = await readable_case(uow, case_id)
    record = await uow.get(IdentityEvidence, case.id)
    if record is None:
        raise NotFound("identity", "This case's identity is not confirmed here.")
    return await confirmed_view(uow, case, record)


# ---- reports, the review queue, the figures --------------------------------------


async def reports(uow: UnitOfWork, status: str | None, limit: int) -> list[MissingPersonReportView]:
    """Reports filed at the caller's station (the center: all), newest first."""
    query = (
        select(MissingPersonReport).order_by(MissingPersonReport.reported_at.desc()).limit(limit)
    )
    if not sees_network(uow.actor, uow.network):
        query = query.where(MissingPersonReport.station_id == uow.actor.station_id)
    if status:
        query = query.where(MissingPersonReport.status == status)
    return [
        MissingPersonReportView.model_validate(r, from_attributes=True)
        for r in (await uow.session.scalars(query)).all()
    ]


async def review_queue(
    uow: UnitOfWork,
    case_id: uuid.UUID | None,
    report_id: uuid.UUID | None,
    status: str,
    limit: int,
) -> list[CandidateView]:
    """Candidates the caller may see (visibility.candidate_scope), best score first."""
    query = (
        select(IdentityCandidate, SearchCase, MissingPersonReport)
        .join(SearchCase, SearchCase.id == IdentityCandidate.case_id)
        .join(MissingPersonReport, MissingPersonReport.id == IdentityCandidate.report_id)
        .where(IdentityCandidate.status == status)
        .order_by(IdentityCandidate.score.desc(), IdentityCandidate.proposed_at)
        .limit(limit)
    )
    if (scope := candidate_scope(uow.actor, uow.network)) is not None:
        query = query.where(scope)
    if case_id:
        query = query.where(IdentityCandidate.case_id == case_id)
    if report_id:
        query = query.where(IdentityCandidate.report_id == report_id)
    rows = (await uow.session.execute(query)).all()
    return [candidate_view(c, case, r) for c, case, r in rows]


async def identification_figures(
    uow: UnitOfWork, period_start: datetime, period_end: datetime
) -> list[IdentificationFigures]:
    """Per station in the caller's scope: the cases opened in [period_start,
    period_end), how many were identified by its end, and how fast."""
    everyone = sees_network(uow.actor, uow.network)
    stations = sorted(uow.network.stations) if everyone else [uow.actor.station_id]
    query = select(
        SearchCase.station_id, SearchCase.arrived_at, SearchCase.opened_at, SearchCase.identified_at
    ).where(
        or_(
            (SearchCase.opened_at >= period_start) & (SearchCase.opened_at < period_end),
            (SearchCase.identified_at >= period_start) & (SearchCase.identified_at < period_end),
        )
    )
    if not everyone:
        query = query.where(SearchCase.station_id == uow.actor.station_id)
    rows = (await uow.session.execute(query)).all()
    return [station_figures(s, rows, period_start, period_end) for s in stations]


# ---- faces -----------------------------------------------------------------------


async def suggestions(
    uow: UnitOfWork, case_id: uuid.UUID | None, status: str, limit: int
) -> list[SuggestionView]:
    """Earlier-stay suggestions of the cases in the caller's scope, best first, with
    their trails as the caller may see them."""
    query = (
        select(EarlierStaySuggestion)
        .where(EarlierStaySuggestion.status == status)
        .order_by(EarlierStaySuggestion.similarity.desc(), EarlierStaySuggestion.suggested_at)
        .limit(limit)
    )
    if (stations := case_stations(uow.actor, uow.network)) is not None:
        query = query.where(EarlierStaySuggestion.station_id.in_(stations))  # the case's
    if case_id:
        query = query.where(EarlierStaySuggestion.case_id == case_id)
    found = (await uow.session.scalars(query)).all()
    return await suggestion_views(uow, found)


# ---- places and names ------------------------------------------------------------


class PlaceView(BaseModel):
    code: str
    name: str
    level: str
    path: list[str]
    path_codes: list[str]
    pinyin: str
    score: float
    current: bool
    now_part_of: PlaceView | None = None
    why: list[str]

    @classmethod
    def of(cls, match) -> PlaceView:
        return cls(
            code=match.code,
            name=match.name,
            level=match.level,
            path=list(match.path),
            path_codes=list(match.path_codes),
            pinyin=match.pinyin,
            score=round(match.score, 3),
            current=match.current,
            now_part_of=cls.of(match.now_part_of) if match.now_part_of else None,
            why=list(match.why),
        )


async def places(
    settings: Any, q: str, province: str | None, county: str | None, limit: int
) -> list[PlaceView]:
    """Divisions ranked against ``q``, those inside the context first."""
    found = (await gazetteer(settings.gazetteer_dir)).search(
        q, province=province, county=county, limit=limit
    )
    return [PlaceView.of(m) for m in found]


async def place(settings: Any, code: str) -> PlaceView:
    """The division with this administrative code, or a 404."""
    found = (await gazetteer(settings.gazetteer_dir)).lookup(code)
    if found is None:
        raise NotFound("division", "No division has this code.")
    return PlaceView.of(found)


class NameView(BaseModel):
    record_kind: str
    record_id: uuid.UUID
    person_id: uuid.UUID | None
    station_id: str
    name: str
    score: float
    verdict: str
    why: list[str]

    @classmethod
    def of(cls, match) -> NameView:
        return cls(
            record_kind=match.record_kind,
            record_id=match.record_id,
            person_id=match.person_id,
            station_id=match.station_id,
            name=match.name,
            score=round(match.score, 3),
            verdict=match.verdict,
            why=list(match.why),
        )


async def names(
    uow: UnitOfWork, q: str, kind: Literal["case", "report"] | None, limit: int
) -> list[NameView]:
    """Names of the history that sound like ``q``, best first, of the records the
    caller may open; ``kind``: only cases or only reports."""
    kinds = (kind,) if kind else ("case", "report")
    stations = case_stations(uow.actor, uow.network)  # the cases' own rule
    found = await find_names(uow.session, q, kinds=kinds, limit=limit, stations=stations)
    return [NameView.of(m) for m in found]
