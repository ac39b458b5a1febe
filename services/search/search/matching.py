"""Matching admitted persons against families' missing-person reports, both ways.

A new case (or a new clue, a face photo) is ranked against the open reports that
may match it; a new report (or its photo) against such open cases of the network:
the candidates come from the matching index (search.candidates). The ranking
itself is search.ranking (field by field: face, name, place, age, sex); this
module gathers what each side knows from the tables (names, places as said and
resolved through the gazetteer, face embeddings) and records each worthwhile pair
in the review queue. Matches are suggestions with their scores and findings:
nothing is ever merged automatically.
"""

from __future__ import annotations

import json
import re
import unicodedata
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import Float, String, Text, Uuid, bindparam, exists, select, text, update
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import defer

from rescue_chassis.commands import UnitOfWork
from rescue_chassis.runtime import Runtime
from rescue_chassis.writes import Writes
from rescue_events.contracts.search_evidence import IdentityCandidateProposedV1
from rescue_events.driver import begun
from search import candidates
from search.evidence import age_now
from search.names import index_names, split_names
from search.places import loaded_resolver, resolver
from search.ranking import IDENTIFYING, Ranked, ResolvedPlace, Sides, Verdict, rank
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
    back is found by name); the matching index learns the case as it is now (its
    names, places, sex and age; out of it once it is no longer open)."""
    clues = await uow.find(Clue, case_id=case.id)
    names = [*split_names(case.stated_names), *(n for clue in clues for n in clue.names)]
    if case.full_name:
        names.append(case.full_name)
    await index_person_names(uow, case.id, case.station_id, case.person_id, names)
    resolve = loaded_resolver(uow.runtime.settings.gazetteer_dir)
    await index_case(uow.session, case, person_profile(case, clues), resolve)


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


#: Proposals per matching run of a new or changed record, best first: a reviewer works
#: down one list, and face comparisons are read top-first too.
MAX_PROPOSALS = 20


def _queue_order(ranked: Ranked) -> tuple[float, int, float]:
    """The score, then how many identifying fields meet, then how near the places are."""
    met = sum(
        1
        for f in ranked.findings
        if f.field in IDENTIFYING and f.identifying and f.verdict in (Verdict.MATCH, Verdict.CLOSE)
    )
    return ranked.score, met, ranked.finding("place").score or 0.0


def best_pairs(pairs: Sequence[tuple], limit: int = MAX_PROPOSALS) -> list[tuple]:
    """The ``limit`` best of the run's (case, report, ranked) pairs, best first; the
    others are ranked again when either side changes (a clue, a photo)."""
    return sorted(pairs, key=lambda pair: _queue_order(pair[2]), reverse=True)[:limit]


#: Candidate pairs inserted per statement.
PROPOSALS_PER_STATEMENT = 1_000
_PROPOSE = text(
    """
    INSERT INTO identity_candidates (id, case_id, report_id, station_id, report_station_id,
                                     status, score, reasons, explanation, proposed_at)
    SELECT t.id, t.case_id, t.report_id, t.station, t.report_station, 'pending', t.score,
           ARRAY(SELECT jsonb_array_elements_text(t.reasons::jsonb)), t.explanation::jsonb,
           :now
      FROM unnest(CAST(:ids AS uuid[]), CAST(:case_ids AS uuid[]),
                  CAST(:report_ids AS uuid[]), CAST(:stations AS varchar[]),
                  CAST(:report_stations AS varchar[]), CAST(:scores AS float8[]),
                  CAST(:reasons AS text[]), CAST(:explanations AS text[]))
           AS t(id, case_id, report_id, station, report_station, score, reasons, explanation)
    ON CONFLICT (case_id, report_id) DO NOTHING
    RETURNING id, case_id, report_id
    """
).bindparams(
    bindparam("ids", type_=ARRAY(Uuid)),
    bindparam("case_ids", type_=ARRAY(Uuid)),
    bindparam("report_ids", type_=ARRAY(Uuid)),
    bindparam("stations", type_=ARRAY(String)),
    bindparam("report_stations", type_=ARRAY(String)),
    bindparam("scores", type_=ARRAY(Float)),
    bindparam("reasons", type_=ARRAY(Text)),
    bindparam("explanations", type_=ARRAY(Text)),
)


async def _propose(
    session: AsyncSession,
    runtime: Runtime,
    pairs: Sequence[tuple[SearchCase, MissingPersonReport, Ranked]],
    now: datetime,
) -> int:
    """New candidate pairs, once each: how many are new. A pending pair takes the
    newer ranking (a photo or a clue came in); a pair already reviewed stays as the
    reviewer left it. The rows go in a statement per thousand, the events in one."""
    new: dict[tuple[uuid.UUID, uuid.UUID], uuid.UUID] = {}
    for start in range(0, len(pairs), PROPOSALS_PER_STATEMENT):
        chunk = pairs[start : start + PROPOSALS_PER_STATEMENT]
        inserted = await session.execute(
            _PROPOSE,
            {
                "ids": [uuid.uuid4() for _ in chunk],
                "case_ids": [case.id for case, _, _ in chunk],
                "report_ids": [report.id for _, report, _ in chunk],
                "stations": [case.station_id for case, _, _ in chunk],
                "report_stations": [report.station_id for _, report, _ in chunk],
                "scores": [ranked.score for _, _, ranked in chunk],
                "reasons": [json.dumps(list(r.reasons), ensure_ascii=False) for _, _, r in chunk],
                "explanations": [
                    json.dumps([f.as_json() for f in r.findings], ensure_ascii=False)
                    for _, _, r in chunk
                ],
                "now": now,
            },
        )
        new.update({(c, r): i for i, c, r in inserted.all()})
    writes = Writes()  # events only: no encrypted column to seal
    for case, report, ranked in pairs:
        candidate_id = new.get((case.id, report.id))
        if candidate_id is None:
            await session.execute(
                update(IdentityCandidate)
                .where(
                    IdentityCandidate.case_id == case.id,
                    IdentityCandidate.report_id == report.id,
                    IdentityCandidate.status == "pending",
                )
                .values(
                    score=ranked.score,
                    reasons=list(ranked.reasons),
                    explanation=[f.as_json() for f in ranked.findings],
                )
            )
            continue
        runtime.outbox.stage_in(
            writes,
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
    await writes.send(await begun(session))
    return len(new)


# ---- the matching index: candidates instead of the open set (search.candidates) ----


def _person_places(person: PersonProfile, resolve: Resolver) -> list[ResolvedPlace]:
    regions = [r for r in (dialect_region(d) for d in person.dialects) if len(r) >= 2]
    return _resolved([*person.places, *regions], resolve)


def case_blocking(person: PersonProfile, resolve: Resolver | None) -> candidates.Blocking:
    """The case's keys and profile; its places wait when ``resolve`` is None."""
    texts = candidates.text_keys(person.texts)
    said = [p for p in (*person.places, *person.dialects) if p.strip()]
    if not said:
        codes: list[str] | None = []
    else:
        codes = None if resolve is None else candidates.place_codes(_person_places(person, resolve))
    return candidates.Blocking(
        keys=frozenset(candidates.name_block_keys(person.names) | texts),
        sex=candidates.known_sex(person.sex),
        age=person.age,
        codes=None if codes is None else tuple(codes),
        lookup=frozenset(candidates.name_block_keys(person.names, query=True) | texts),
    )


def report_blocking(report: MissingPersonReport, resolve: Resolver) -> candidates.Blocking:
    """The report's keys and profile (its age as a birth year: it grows older)."""
    heard = candidates.wanted_text_key(report.reported_name)
    text_keys = {heard} if heard else set()
    if report.birth_year is not None:
        born = report.birth_year
    elif report.age is not None:
        born = report.reported_at.year - report.age
    else:
        born = None
    places = [p for p in (report.last_seen_place, report.home_place) if p]
    lookup = candidates.name_block_keys([report.reported_name], query=True) | text_keys
    return candidates.Blocking(
        keys=frozenset(candidates.name_block_keys([report.reported_name]) | text_keys),
        sex=candidates.known_sex(report.sex),
        born=born,
        codes=tuple(candidates.place_codes(_resolved(places, resolve))),
        lookup=frozenset(lookup),
    )


async def _any_open(session: AsyncSession, model) -> bool:
    return bool(await session.scalar(select(exists().where(model.status == "open"))))


async def index_case(
    session: AsyncSession,
    case: SearchCase,
    person: PersonProfile,
    resolve: Resolver | None,
) -> candidates.Blocking:
    """The case's keys and profile in the matching index (out of it once not open)."""
    blocking = case_blocking(person, resolve)
    if case.status == "open":
        await candidates.store(session, "case", case.id, blocking)
    else:
        await candidates.forget(session, "case", case.id)
    return blocking


async def _index_unresolved(session: AsyncSession, resolve: Resolver) -> None:
    """Records indexed while the gazetteer was not loaded (or before the index
    existed) get their places now: before any report is ranked against them."""
    waiting = await candidates.unresolved(session)
    case_ids = [i for kind, i in waiting if kind == "case"]
    if case_ids:
        cases = (await session.scalars(select(SearchCase).where(SearchCase.id.in_(case_ids)))).all()
        clues = await _clues_by_case(session, case_ids)
        for case in cases:
            await index_case(session, case, person_profile(case, clues[case.id]), resolve)
        for gone in set(case_ids) - {c.id for c in cases}:
            await candidates.forget(session, "case", gone)
    report_ids = [i for kind, i in waiting if kind == "report"]
    if report_ids:
        reports = (
            await session.scalars(
                select(MissingPersonReport)
                .where(MissingPersonReport.id.in_(report_ids))
                .options(defer(MissingPersonReport.contact_phone))
            )
        ).all()
        for report in reports:
            if report.status == "open":
                blocking = report_blocking(report, resolve)
                await candidates.store(session, "report", report.id, blocking)
            else:
                await candidates.forget(session, "report", report.id)
        for gone in set(report_ids) - {r.id for r in reports}:
            await candidates.forget(session, "report", gone)


async def _open_among(session: AsyncSession, model, kind: str, ids: set[uuid.UUID]) -> list:
    """The open records among candidate ids; the others leave the index."""
    if not ids:
        return []
    query = select(model).where(model.id.in_(ids))
    if model is MissingPersonReport:  # the ranking never reads the family's phone
        query = query.options(defer(MissingPersonReport.contact_phone))
    found = (await session.scalars(query)).all()
    still = [r for r in found if r.status == "open"]
    for gone in ids - {r.id for r in still}:
        await candidates.forget(session, kind, gone)
    return sorted(still, key=lambda r: str(r.id))


async def match_case(session: AsyncSession, runtime: Runtime, case: SearchCase) -> int:
    """Match an open case (new, or with a new clue or photo) against the open reports
    that may match it (its candidates in the matching index)."""
    if case.status != "open":
        return 0
    clues = await _clues_by_case(session, [case.id])
    faces = await _faces(session, FaceRecord.case_id, [case.id])
    return await _match_person(
        session, runtime, case, person_profile(case, clues[case.id], faces[case.id])
    )


async def _match_person(
    session: AsyncSession,
    runtime: Runtime,
    case: SearchCase,
    person: PersonProfile,
    *,
    any_report: bool | None = None,
) -> int:
    if any_report is None:
        any_report = await _any_open(session, MissingPersonReport)
    if not any_report:
        # Nothing to compare with: the gazetteer (large, slow to load) is not loaded
        # for it; the case's places are resolved by the next report if need be.
        resolve = loaded_resolver(runtime.settings.gazetteer_dir)
        await index_case(session, case, person, resolve)
        return 0
    resolve = await resolver(runtime.settings.gazetteer_dir)
    now = datetime.now(UTC)
    blocking = await index_case(session, case, person, resolve)
    await _index_unresolved(session, resolve)
    ids = await candidates.candidates(
        session,
        kind="report",
        lookup=blocking.lookup,
        codes=blocking.codes or (),
        sex=person.sex,
        age=person.age,
        year=now.year,
        faces=person.faces,
    )
    reports = await _open_among(session, MissingPersonReport, "report", ids)
    report_faces = await _faces(session, FaceRecord.report_id, [r.id for r in reports])
    pairs = []
    for report in reports:
        ranked = compare(person, report_profile(report, now, report_faces[report.id]), resolve)
        if ranked is not None:
            pairs.append((case, report, ranked))
    return await _propose(session, runtime, best_pairs(pairs), now) if pairs else 0


async def match_open_case(uow: UnitOfWork, case: SearchCase) -> int:
    """``match_case`` in a use case's unit of work."""
    return await match_case(uow.session, uow.runtime, case)


async def match_new_case(uow: UnitOfWork, case: SearchCase, *, any_report: bool) -> int:
    """A case just opened, matched in the transaction that opens it (no clue or
    photo yet: its profile is the admission's); ``any_report``: is one open."""
    person = person_profile(case, ())
    return await _match_person(uow.session, uow.runtime, case, person, any_report=any_report)


async def match_report(session: AsyncSession, runtime: Runtime, report: MissingPersonReport) -> int:
    """Match a report (new, or with a new photo) against the open cases of the network
    that may match it (its candidates in the matching index)."""
    if report.status != "open":
        await candidates.forget(session, "report", report.id)
        return 0
    resolve = await resolver(runtime.settings.gazetteer_dir)
    now = datetime.now(UTC)
    faces = await _faces(session, FaceRecord.report_id, [report.id])
    wanted = report_profile(report, now, faces[report.id])
    blocking = report_blocking(report, resolve)
    await candidates.store(session, "report", report.id, blocking)
    await _index_unresolved(session, resolve)
    ids = await candidates.candidates(
        session,
        kind="case",
        lookup=blocking.lookup,
        codes=blocking.codes or (),
        sex=report.sex,
        age=wanted.age,
        year=now.year,
        faces=wanted.faces,
    )
    cases = await _open_among(session, SearchCase, "case", ids)
    case_ids = [c.id for c in cases]
    clues = await _clues_by_case(session, case_ids)
    case_faces = await _faces(session, FaceRecord.case_id, case_ids)
    pairs = []
    for case in cases:
        ranked = compare(person_profile(case, clues[case.id], case_faces[case.id]), wanted, resolve)
        if ranked is not None:
            pairs.append((case, report, ranked))
    return await _propose(session, runtime, best_pairs(pairs), now) if pairs else 0
