"""Matching admitted persons against families' missing-person reports, both ways.

A new case (or a new clue, a face photo) is ranked against every open report; a
new report (or its photo) against every open case of the network. The ranking
itself is search.ranking (field by field: face, name, place, age, sex); this
module gathers what each side knows from the tables (names, places as said and
resolved through the gazetteer, face embeddings) and records each worthwhile pair
in the review queue. Matches are suggestions with their scores and findings:
nothing is ever merged automatically.
"""

from __future__ import annotations

import re
import unicodedata
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import select, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from rescue_chassis.commands import UnitOfWork
from rescue_chassis.runtime import Runtime
from rescue_events.contracts.search_evidence import IdentityCandidateProposedV1
from search.evidence import age_now
from search.names import index_names, split_names
from search.places import resolver
from search.ranking import Ranked, ResolvedPlace, Sides, rank
from search.tables.core import SearchCase
from search.tables.evidence import Clue, IdentityCandidate, MissingPersonReport
from search.tables.faces import FaceRecord


@dataclass(frozen=True)
class PersonProfile:
    """What search knows about an admitted person: from the case and its clues."""

    case_id: uuid.UUID
    sex: str | None = None  # male | female; None or "unknown" when not known
    age: int | None = None
    names: Sequence[str] = ()
    places: Sequence[str] = ()
    dialects: Sequence[str] = ()
    texts: Sequence[str] = ()  # the clues' free text (望闻问切断)
    faces: Sequence[Sequence[float]] = ()


@dataclass(frozen=True)
class ReportProfile:
    """What a family told about the person they are looking for."""

    report_id: uuid.UUID
    name: str
    sex: str | None = None
    age: int | None = None
    places: Sequence[str] = ()  # last seen, home
    faces: Sequence[Sequence[float]] = ()


_DIALECT_SUFFIX = re.compile(r"(方言|口音|话|腔)$")


def dialect_region(dialect: str) -> str:
    """ "四川话" → "四川": where a dialect is spoken, as a place to resolve."""
    return _DIALECT_SUFFIX.sub("", unicodedata.normalize("NFKC", dialect).strip())


Resolver = Callable[[str], tuple[ResolvedPlace, ...]]


def _resolved(texts, resolve: Resolver) -> list[ResolvedPlace]:
    return [place for text in texts if text and text.strip() for place in resolve(text)]


def compare(person: PersonProfile, report: ReportProfile, resolve: Resolver) -> Ranked | None:
    """The pair ranked field by field, or None when not worth a review."""
    regions = [r for r in (dialect_region(d) for d in person.dialects) if len(r) >= 2]
    return rank(
        Sides(
            names=person.names,
            texts=person.texts,
            wanted_name=report.name,
            sex=person.sex,
            reported_sex=report.sex,
            age=person.age,
            reported_age=report.age,
            places=_resolved([*person.places, *regions], resolve),
            reported_places=_resolved(report.places, resolve),
            faces=person.faces,
            reported_faces=report.faces,
        )
    )


# ---- running it: profiles from the tables, candidates into the review queue -------


def _split(text: str | None) -> list[str]:
    return [p for p in re.split(r"[、,，;；]", text or "") if p.strip()]


def person_profile(
    case: SearchCase, clues: Sequence[Clue], faces: Sequence[Sequence[float]] = ()
) -> PersonProfile:
    """The case as admitted, with what the clues added (the latest sex and age seen
    wins over the admission's)."""
    ordered = sorted(clues, key=lambda c: c.noted_at)
    sex = next((c.apparent_sex for c in reversed(ordered) if c.apparent_sex), case.sex)
    age = next(
        (c.apparent_age for c in reversed(ordered) if c.apparent_age is not None),
        case.estimated_age,
    )
    texts = [
        t
        for c in ordered
        for t in (c.observed, c.dialect_heard, c.person_said, c.changes, c.group_judgment)
        if t
    ]
    return PersonProfile(
        case_id=case.id,
        sex=sex,
        age=age,
        names=[*_split(case.stated_names), *(n for c in ordered for n in c.names)],
        places=[*_split(case.stated_places), *(p for c in ordered for p in c.places)],
        dialects=[d for d in (case.dialect, *(c.dialect_heard for c in ordered)) if d],
        texts=texts,
        faces=faces,
    )


def report_profile(
    report: MissingPersonReport, now: datetime, faces: Sequence[Sequence[float]] = ()
) -> ReportProfile:
    return ReportProfile(
        report_id=report.id,
        name=report.reported_name,
        sex=report.sex,
        age=age_now(
            age_at_report=report.age,
            birth_year=report.birth_year,
            reported_at=report.reported_at,
            now=now,
        ),
        places=[p for p in (report.last_seen_place, report.home_place) if p],
        faces=faces,
    )


async def _clues_by_case(session: AsyncSession, case_ids: list[uuid.UUID]) -> dict:
    found: dict[uuid.UUID, list[Clue]] = {i: [] for i in case_ids}
    if case_ids:
        for clue in (await session.scalars(select(Clue).where(Clue.case_id.in_(case_ids)))).all():
            found[clue.case_id].append(clue)
    return found


async def index_case_names(uow: UnitOfWork, case: SearchCase) -> None:
    """Every name the person gave, heard in the clues or confirmed goes into the name
    index of the network's history (kept when the case closes: a person who comes
    back is found by name)."""
    clues = await uow.find(Clue, case_id=case.id)
    names = [*split_names(case.stated_names), *(n for clue in clues for n in clue.names)]
    if case.full_name:
        names.append(case.full_name)
    await index_person_names(uow, case.id, case.station_id, case.person_id, names)


async def index_person_names(
    uow: UnitOfWork,
    case_id: uuid.UUID,
    station_id: str,
    person_id: uuid.UUID,
    names: Sequence[str],
    *,
    replacing: bool = True,
) -> None:
    """Make the case's indexed names exactly ``names``; ``replacing=False``: a new
    case, nothing indexed yet."""
    await index_names(
        uow.session,
        record_kind="case",
        record_id=case_id,
        station_id=station_id,
        names=names,
        person_id=person_id,
        replacing=replacing,
    )


async def index_report_name(session: AsyncSession, report: MissingPersonReport) -> None:
    await index_names(
        session,
        record_kind="report",
        record_id=report.id,
        station_id=report.station_id,
        names=[report.reported_name],
    )


async def _faces(session: AsyncSession, column, ids: list[uuid.UUID]) -> dict:
    """Face embeddings per case or per report (the photos enrolled for them)."""
    found: dict[uuid.UUID, list] = {i: [] for i in ids}
    if ids:
        rows = await session.execute(select(column, FaceRecord.embedding).where(column.in_(ids)))
        for owner, embedding in rows.all():
            found[owner].append([float(x) for x in embedding])
    return found


async def _propose(
    session: AsyncSession,
    runtime: Runtime,
    case: SearchCase,
    report: MissingPersonReport,
    ranked: Ranked,
    now: datetime,
) -> bool:
    """A new candidate pair, once. A pending pair takes the newer ranking (a photo or
    a clue came in); a pair already reviewed stays as the reviewer left it."""
    explanation = [f.as_json() for f in ranked.findings]
    candidate_id = uuid.uuid4()
    inserted = await session.scalar(
        insert(IdentityCandidate)
        .values(
            id=candidate_id,
            case_id=case.id,
            report_id=report.id,
            station_id=case.station_id,
            report_station_id=report.station_id,
            status="pending",
            score=ranked.score,
            reasons=list(ranked.reasons),
            explanation=explanation,
            proposed_at=now,
        )
        .on_conflict_do_nothing(index_elements=["case_id", "report_id"])
        .returning(IdentityCandidate.id)
    )
    if inserted is None:
        await session.execute(
            update(IdentityCandidate)
            .where(
                IdentityCandidate.case_id == case.id,
                IdentityCandidate.report_id == report.id,
                IdentityCandidate.status == "pending",
            )
            .values(score=ranked.score, reasons=list(ranked.reasons), explanation=explanation)
        )
        return False
    await runtime.outbox.stage(
        session,
        IdentityCandidateProposedV1(
            person_id=case.person_id,
            case_id=case.id,
            candidate_id=candidate_id,
            missing_person_report_id=report.id,
            station_id=case.station_id,
            report_station_id=report.station_id,
            score=ranked.score,
            signals=list(ranked.signals),
            proposed_at=now,
        ),
    )
    return True


async def match_case(session: AsyncSession, runtime: Runtime, case: SearchCase) -> int:
    """Match an open case (new, or with a new clue or photo) against every open report."""
    if case.status != "open":
        return 0
    reports = (
        await session.scalars(
            select(MissingPersonReport).where(MissingPersonReport.status == "open")
        )
    ).all()
    if not reports:
        # Nothing to compare with: the gazetteer (large, slow to load) is not needed.
        return 0
    resolve = await resolver(runtime.settings.gazetteer_dir)
    now = datetime.now(UTC)
    clues = await _clues_by_case(session, [case.id])
    faces = await _faces(session, FaceRecord.case_id, [case.id])
    person = person_profile(case, clues[case.id], faces[case.id])
    report_faces = await _faces(session, FaceRecord.report_id, [r.id for r in reports])
    proposed = 0
    for report in reports:
        ranked = compare(person, report_profile(report, now, report_faces[report.id]), resolve)
        if ranked is not None and await _propose(session, runtime, case, report, ranked, now):
            proposed += 1
    return proposed


async def match_open_case(uow: UnitOfWork, case: SearchCase) -> int:
    """``match_case`` in a use case's unit of work."""
    return await match_case(uow.session, uow.runtime, case)


async def match_report(session: AsyncSession, runtime: Runtime, report: MissingPersonReport) -> int:
    """Match a report (new, or with a new photo) against every open case of the network."""
    if report.status != "open":
        return 0
    cases = (await session.scalars(select(SearchCase).where(SearchCase.status == "open"))).all()
    if not cases:
        return 0
    resolve = await resolver(runtime.settings.gazetteer_dir)
    now = datetime.now(UTC)
    faces = await _faces(session, FaceRecord.report_id, [report.id])
    wanted = report_profile(report, now, faces[report.id])
    case_ids = [c.id for c in cases]
    clues = await _clues_by_case(session, case_ids)
    case_faces = await _faces(session, FaceRecord.case_id, case_ids)
    proposed = 0
    for case in cases:
        ranked = compare(person_profile(case, clues[case.id], case_faces[case.id]), wanted, resolve)
        if ranked is not None and await _propose(session, runtime, case, report, ranked, now):
            proposed += 1
    return proposed
