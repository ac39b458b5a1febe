"""The interface to the matching engine (issue 5), and running it.

A ``CandidateMatcher`` compares an admitted person (the search case with its
clues) with a family's missing-person report and says whether they could be the
same person, with a score and reasons. The default here is deliberately simple;
the real engine (homophone and historical place names, dialect regions, faces)
replaces it later. Matches only ever become candidates in the review queue:
nothing is merged automatically.
"""

from __future__ import annotations

import re
import unicodedata
import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Protocol

from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from rescue_chassis.runtime import Runtime
from rescue_events.contracts.search_evidence import IdentityCandidateProposedV1
from search.evidence import age_now
from search.tables.core import SearchCase
from search.tables.evidence import Clue, IdentityCandidate, MissingPersonReport

AGE_TOLERANCE = 5


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


@dataclass(frozen=True)
class ReportProfile:
    """What a family told about the person they are looking for."""

    report_id: uuid.UUID
    name: str
    sex: str | None = None
    age: int | None = None
    places: Sequence[str] = ()  # last seen, home


@dataclass(frozen=True)
class MatchResult:
    score: float  # 0..1
    reasons: tuple[str, ...]  # for the reviewer (may name names and places)
    signals: tuple[str, ...] = field(default=())  # codes only, for events: name, place, …


class CandidateMatcher(Protocol):
    def match(self, person: PersonProfile, report: ReportProfile) -> MatchResult | None:
        """A candidate, or None when they cannot be the same person."""
        ...


# ---- normalisation --------------------------------------------------------------

_NAME_NOISE = re.compile(r"[\s·・.\-_,，、]+")
_PLACE_SEPARATORS = re.compile(r"[\s,，、/()（）·]+|(?<=.)[省市县区镇乡村州旗盟](?=.|$)")
_DIALECT_SUFFIX = re.compile(r"(方言|口音|话|腔)$")


def normalise_name(name: str) -> str:
    return _NAME_NOISE.sub("", unicodedata.normalize("NFKC", name)).lower()


def place_tokens(place: str) -> set[str]:
    """ "四川省南充市仪陇县" → {"四川", "南充", "仪陇"}: the admin suffixes dropped,
    so a place said without them ("南充") still meets the written one."""
    text = unicodedata.normalize("NFKC", place).lower()
    return {t for t in _PLACE_SEPARATORS.split(text) if t and len(t) >= 2}


def dialect_region(dialect: str) -> str:
    """ "四川话" → "四川"."""
    return _DIALECT_SUFFIX.sub("", unicodedata.normalize("NFKC", dialect).strip()).lower()


def _overlap(ours: Iterable[str], theirs: Iterable[str]) -> list[str]:
    theirs = set(theirs)
    found = []
    for a in ours:
        for b in theirs:
            if a == b or (len(a) >= 2 and a in b) or (len(b) >= 2 and b in a):
                found.append(a if len(a) <= len(b) else b)
    return sorted(set(found))


def _known_sex(sex: str | None) -> str | None:
    return sex if sex in ("male", "female") else None


class DefaultMatcher:
    """Same sex and age within ±5 years when both are known; then the name equal
    (after normalisation) or one of the stated names, or heard in the clues; or the
    places overlap (a stated place or the dialect's region meets where the person
    was last seen or lives). At least a name or a place must meet."""

    def match(self, person: PersonProfile, report: ReportProfile) -> MatchResult | None:
        reasons: list[str] = []
        signals: list[str] = []
        score = 0.0
        ours, theirs = _known_sex(person.sex), _known_sex(report.sex)
        if ours and theirs and ours != theirs:
            return None
        if person.age is not None and report.age is not None:
            if abs(person.age - report.age) > AGE_TOLERANCE:
                return None
        wanted = normalise_name(report.name)
        names = {normalise_name(n) for n in person.names if n.strip()}
        if wanted and wanted in names:
            score += 0.5
            reasons.append(f"name {report.name} is one the person gave")
            signals.append("name")
        elif len(wanted) >= 2 and any(wanted in normalise_name(t) for t in person.texts):
            score += 0.3
            reasons.append(f"name {report.name} appears in the clues")
            signals.append("name_in_clues")
        report_places = (
            set().union(*(place_tokens(p) for p in report.places)) if report.places else set()
        )
        stated = set().union(*(place_tokens(p) for p in person.places)) if person.places else set()
        met = _overlap(stated, report_places)
        if met:
            score += 0.25
            reasons.append(f"places meet: {'、'.join(met)}")
            signals.append("place")
        regions = {r for r in (dialect_region(d) for d in person.dialects) if len(r) >= 2}
        heard = _overlap(regions, report_places)
        if heard:
            score += 0.1
            reasons.append(f"dialect points to {'、'.join(heard)}")
            signals.append("dialect")
        if not (set(signals) & {"name", "name_in_clues", "place", "dialect"}):
            return None
        if ours and theirs:
            score += 0.1
            reasons.append(f"same sex ({ours})")
            signals.append("sex")
        if person.age is not None and report.age is not None:
            score += 0.15 * (1 - abs(person.age - report.age) / (AGE_TOLERANCE + 1))
            reasons.append(f"age {person.age} against reported {report.age}")
            signals.append("age")
        return MatchResult(round(min(score, 1.0), 3), tuple(reasons), tuple(signals))


DEFAULT_MATCHER: CandidateMatcher = DefaultMatcher()


# ---- running it: profiles from the tables, candidates into the review queue -------


def _split(text: str | None) -> list[str]:
    return [p for p in re.split(r"[、,，;；]", text or "") if p.strip()]


def person_profile(case: SearchCase, clues: Sequence[Clue]) -> PersonProfile:
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
    )


def report_profile(report: MissingPersonReport, now: datetime) -> ReportProfile:
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
    )


async def _clues_by_case(session: AsyncSession, case_ids: list[uuid.UUID]) -> dict:
    found: dict[uuid.UUID, list[Clue]] = {i: [] for i in case_ids}
    if case_ids:
        for clue in (await session.scalars(select(Clue).where(Clue.case_id.in_(case_ids)))).all():
            found[clue.case_id].append(clue)
    return found


async def _propose(
    session: AsyncSession,
    runtime: Runtime,
    case: SearchCase,
    report: MissingPersonReport,
    result: MatchResult,
    now: datetime,
) -> bool:
    """A new candidate pair, once: a pair already proposed (or rejected) stays as it is."""
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
            score=result.score,
            reasons=list(result.reasons),
            proposed_at=now,
        )
        .on_conflict_do_nothing(index_elements=["case_id", "report_id"])
        .returning(IdentityCandidate.id)
    )
    if inserted is None:
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
            score=result.score,
            signals=list(result.signals),
            proposed_at=now,
        ),
    )
    return True


async def match_case(
    session: AsyncSession,
    runtime: Runtime,
    case: SearchCase,
    matcher: CandidateMatcher = DEFAULT_MATCHER,
) -> int:
    """Match an open case (new, or with a new clue) against every open report."""
    if case.status != "open":
        return 0
    now = datetime.now(UTC)
    person = person_profile(case, (await _clues_by_case(session, [case.id]))[case.id])
    reports = await session.scalars(
        select(MissingPersonReport).where(MissingPersonReport.status == "open")
    )
    proposed = 0
    for report in reports.all():
        result = matcher.match(person, report_profile(report, now))
        if result is not None and await _propose(session, runtime, case, report, result, now):
            proposed += 1
    return proposed


async def match_report(
    session: AsyncSession,
    runtime: Runtime,
    report: MissingPersonReport,
    matcher: CandidateMatcher = DEFAULT_MATCHER,
) -> int:
    """Match a new report against every open case of the network."""
    now = datetime.now(UTC)
    wanted = report_profile(report, now)
    cases = (await session.scalars(select(SearchCase).where(SearchCase.status == "open"))).all()
    clues = await _clues_by_case(session, [c.id for c in cases])
    proposed = 0
    for case in cases:
        result = matcher.match(person_profile(case, clues[case.id]), wanted)
        if result is not None and await _propose(session, runtime, case, report, result, now):
            proposed += 1
    return proposed
