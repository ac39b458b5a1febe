"""The review queue is bounded per matching run: the best MAX_PROPOSALS pairs only."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from types import SimpleNamespace

from search import candidates, matching
from search.ranking import Finding, Ranked, ResolvedPlace, Verdict
from search.tables import SearchCase
from search.tables.evidence import MissingPersonReport

NOW = datetime.now(UTC)
PLACES = {"信阳": "4115", "固始": "411525", "固始县城关镇": "411525001"}


def resolve(text: str) -> tuple[ResolvedPlace, ...]:
    code = PLACES.get(text.strip())
    return () if code is None else (ResolvedPlace(text, code, ("河南省", text), 1.0),)


def a_case(place: str, age: int | None) -> SearchCase:
    return SearchCase(
        id=uuid.uuid4(),
        person_id=uuid.uuid4(),
        station_id="gushi",
        status="open",
        arrived_at=NOW,
        opened_at=NOW,
        notice_due_at=NOW + timedelta(hours=24),
        stated_places=place,
        sex="male",
        estimated_age=age,
        categories=[],
    )


def a_report() -> MissingPersonReport:
    return MissingPersonReport(
        id=uuid.uuid4(),
        station_id="gushi",
        status="open",
        reported_name="甲乙丙",
        sex="male",
        age=60,
        last_seen_place="固始县城关镇",
        contact_name="李小红",
        reported_by="w1",
        reported_at=NOW,
    )


async def test_a_report_with_fifty_rankable_cases_gets_the_twenty_best(monkeypatch):
    ages = [None, None, *range(53, 68)]  # unknown or within the close gap: all rankable
    cases = [a_case(place, age) for place in ("信阳", "固始", "固始县城关镇") for age in ages][:50]
    report = a_report()
    wanted = matching.report_profile(report, NOW)
    scores = {
        c.id: r.score
        for c in cases
        if (r := matching.compare(matching.person_profile(c, ()), wanted, resolve)) is not None
    }
    assert len(cases) == len(scores) == 50  # every one of them rankable

    async def found(session, **kwargs):
        return {c.id for c in cases}

    async def open_among(session, model, kind, ids):
        return [c for c in cases if c.id in ids]

    async def faces(session, column, ids):
        return {i: [] for i in ids}

    async def clues(session, ids):
        return {i: [] for i in ids}

    async def nothing(*args, **kwargs):
        return None

    async def loaded(gazetteer_dir):
        return resolve

    proposed = []

    async def propose(session, runtime, pairs, now):
        proposed.extend(pairs)
        return len(pairs)

    monkeypatch.setattr(candidates, "candidates", found)
    monkeypatch.setattr(candidates, "store", nothing)
    monkeypatch.setattr(matching, "resolver", loaded)
    monkeypatch.setattr(matching, "_index_unresolved", nothing)
    monkeypatch.setattr(matching, "_open_among", open_among)
    monkeypatch.setattr(matching, "_faces", faces)
    monkeypatch.setattr(matching, "_clues_by_case", clues)
    monkeypatch.setattr(matching, "_propose", propose)
    runtime = SimpleNamespace(settings=SimpleNamespace(gazetteer_dir=None))

    assert await matching.match_report(object(), runtime, report) == matching.MAX_PROPOSALS == 20
    got = [ranked.score for _, _, ranked in proposed]
    assert got == sorted(scores.values(), reverse=True)[:20]  # the best, best first
    assert {r.id for _, r, _ in proposed} == {report.id}


def _ranked(score, *, name: Verdict, place: float) -> Ranked:
    return Ranked(
        score,
        (
            Finding("face", Verdict.UNKNOWN, None, "no face"),
            Finding("name", name, 0.5 if name is Verdict.CLOSE else 0.0, "name"),
            Finding("place", Verdict.CLOSE, place, "place"),
            Finding("age", Verdict.UNKNOWN, None, "age"),
            Finding("sex", Verdict.MATCH, 1.0, "sex"),
        ),
    )


def test_ties_go_to_more_identifying_fields_then_the_nearer_place():
    city = ("city only", None, _ranked(0.3, name=Verdict.MISMATCH, place=0.45))
    county = ("county only", None, _ranked(0.3, name=Verdict.MISMATCH, place=0.7))
    name_too = ("name and city", None, _ranked(0.3, name=Verdict.CLOSE, place=0.45))
    better = ("better score", None, _ranked(0.31, name=Verdict.MISMATCH, place=0.45))
    best = matching.best_pairs([city, county, name_too, better], limit=3)
    assert [who for who, _, _ in best] == ["better score", "name and city", "county only"]
