"""Matching from the index on the real embedded Postgres (issue 30): a new case or
report is ranked only against its candidates (search.candidates), found among many
records that are not; the candidates are a superset of what the ranking keeps; a
place identifies a pair from its city down (a province alone is no lead), and
migration 0023 re-keys the index's places by city.

The gazetteer is replaced by a table of the few places said here (loading the real
one takes most of a minute); everything else is real: tables, migrations, SQL,
the HNSW face index and the ranking."""

from __future__ import annotations

import asyncio
import itertools
import random
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import SimpleNamespace

import asyncpg
import pytest
from alembic import command
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import async_sessionmaker, create_async_engine
from support import migrated_database

from rescue_chassis import migrations
from rescue_chassis.commands import UnitOfWork
from rescue_chassis.crypto import bind_key_ring, development_key_ring
from rescue_chassis.migrations import alembic_config
from rescue_events.contracts import SearchCaseOpenedV1
from rescue_events.contracts.search_evidence import IdentityCandidateProposedV1
from search import candidates, matching, places
from search.commands.cases import OpenSearchCase, open_search_case
from search.ranking import ResolvedPlace
from search.tables import SearchCase
from search.tables.evidence import IdentityCandidate, MissingPersonReport
from search.tables.faces import FaceRecord
from search.tables.matching import MatchKey, MatchProfile

pytestmark = pytest.mark.integration

MIGRATIONS = Path(__file__).resolve().parents[2] / "services" / "search" / "migrations"
GAZETTEER = Path("/nonexistent/test-matching-candidates-gazetteer")
NOW = datetime.now(UTC)

# Places as said → (code, path): one province each, apart from 四川 and 河南, said at
# every level from the province down.
PLACES = {
    "南充": ("5113", ("四川省", "南充市")),
    "四川": ("51", ("四川省",)),
    "仪陇县新政镇": ("511324101", ("四川省", "南充市", "仪陇县", "新政镇")),
    "成都": ("5101", ("四川省", "成都市")),
    "河南": ("41", ("河南省",)),
    "信阳": ("4115", ("河南省", "信阳市")),
    "固始": ("411525", ("河南省", "信阳市", "固始县")),
    "息县": ("411528", ("河南省", "信阳市", "息县")),
    "固始县城关镇": ("411525001", ("河南省", "信阳市", "固始县", "城关镇")),
    "固始县城关镇东关村": ("411525001001", ("河南省", "信阳市", "固始县", "城关镇", "东关村")),
    "郑州": ("4101", ("河南省", "郑州市")),
    "郑州市金水区": ("410105", ("河南省", "郑州市", "金水区")),
    "哈尔滨": ("2301", ("黑龙江省", "哈尔滨市")),
    "广州": ("4401", ("广东省", "广州市")),
    "昆明": ("5301", ("云南省", "昆明市")),
    "拉萨": ("5401", ("西藏自治区", "拉萨市")),
}
FAR_PLACES = ("哈尔滨", "广州", "昆明", "拉萨")
# Names that sound like none of 王小明 / 李建国 (surnames and given names apart).
OTHER_SURNAMES = "赵孙周吴郑冯褚卫蒋沈韩朱秦尤许何吕施孔曹严华金魏陶姜"
OTHER_GIVEN = "春秋冬雪梅竹松柏桃杏荷菊兰芝蓉芸"


def resolve(text: str) -> tuple[ResolvedPlace, ...]:
    found = PLACES.get(text.strip())
    return () if found is None else (ResolvedPlace(text, found[0], found[1], 1.0),)


class Staged:
    def __init__(self) -> None:
        self.events: list = []

    def stage_in(self, writes, event, **kwargs):
        self.events.append(event)

    async def stage(self, session, event, **kwargs):
        self.events.append(event)


@pytest.fixture(scope="module")
async def sessions(postgres):
    url = await migrated_database(postgres, MIGRATIONS)
    engine = create_async_engine(url)
    bind_key_ring(engine, development_key_ring("a test secret, long enough for the keys"))
    places._loaded[GAZETTEER] = (None, resolve)
    yield async_sessionmaker(engine, expire_on_commit=False)
    places._loaded.pop(GAZETTEER, None)
    await engine.dispose()


@pytest.fixture
def runtime():
    return SimpleNamespace(settings=SimpleNamespace(gazetteer_dir=GAZETTEER), outbox=Staged())


def a_vector(rng: random.Random) -> list[float]:
    return [rng.gauss(0, 0.09) for _ in range(128)]


def other_name(rng: random.Random) -> str:
    return rng.choice(OTHER_SURNAMES) + "".join(rng.choice(OTHER_GIVEN) for _ in range(2))


def a_report(name: str, place: str, sex: str = "male", age: int | None = 60) -> MissingPersonReport:
    return MissingPersonReport(
        id=uuid.uuid4(),
        station_id="gushi",
        status="open",
        reported_name=name,
        sex=sex,
        age=age,
        last_seen_place=place,
        contact_name="李小红",
        contact_phone="13800138000",
        reported_by="w1",
        reported_at=NOW,
    )


def a_case(names: str | None, place: str | None, sex="male", age=60, dialect=None) -> SearchCase:
    return SearchCase(
        id=uuid.uuid4(),
        person_id=uuid.uuid4(),
        station_id="gushi",
        status="open",
        arrived_at=NOW,
        opened_at=NOW,
        notice_due_at=NOW + timedelta(hours=24),
        stated_names=names,
        stated_places=place,
        dialect=dialect,
        sex=sex,
        estimated_age=age,
        categories=[],
    )


def a_face(rng, vector, *, case_id=None, report_id=None) -> FaceRecord:
    return FaceRecord(
        id=uuid.uuid4(),
        person_id=case_id or report_id,
        case_id=case_id,
        report_id=report_id,
        station_id="gushi",
        source="admission" if case_id else "report",
        enrolled_at=NOW,
        encoder="dlib-resnet-v1",
        photo_sha256=uuid.uuid4().hex,
        box_top=0,
        box_right=10,
        box_bottom=10,
        box_left=0,
        embedding=vector,
    )


async def index_report(session, runtime, report: MissingPersonReport) -> None:
    """A report filed while no case is open: indexed, nothing to match."""
    session.add(report)
    await session.flush()
    await candidates.store(session, "report", report.id, matching.report_blocking(report, resolve))


async def cases_for(session, report: MissingPersonReport, resolve, *, age, faces=()) -> set:
    """The open cases a report is ranked against, from the index (search.candidates)."""
    blocking = matching.report_blocking(report, resolve)
    return await candidates.candidates(
        session,
        kind="case",
        lookup=blocking.lookup,
        codes=blocking.codes,
        sex=report.sex,
        age=age,
        year=NOW.year,
        faces=faces,
    )


async def test_a_new_case_meets_its_report_among_many_that_are_not_candidates(sessions, runtime):
    rng = random.Random(30)
    async with sessions() as session:
        for _ in range(400):  # unrelated names, far places: none is a candidate
            report = a_report(other_name(rng), rng.choice(FAR_PLACES), age=rng.randint(5, 90))
            await index_report(session, runtime, report)
        wanted = a_report("王小明", "仪陇县新政镇", age=61)
        await index_report(session, runtime, wanted)
        case = a_case("汪晓明", "南充", dialect="四川话")
        session.add(case)
        await session.flush()

        person = matching.person_profile(case, ())
        blocking = await matching.index_case(session, case, person, resolve)
        found = await candidates.candidates(
            session,
            kind="report",
            lookup=blocking.lookup,
            codes=blocking.codes,
            sex=case.sex,
            age=case.estimated_age,
            year=NOW.year,
        )
        assert found == {wanted.id}

        assert await matching.match_case(session, runtime, case) == 1
        (proposed,) = runtime.outbox.events
        assert proposed.missing_person_report_id == wanted.id
        pairs = (await session.scalars(select(IdentityCandidate.report_id))).all()
        assert pairs == [wanted.id]
        await session.rollback()


async def test_an_admission_is_matched_in_the_transaction_that_opens_its_case(sessions, runtime):
    # issue 30: no `search_case_opened` sent back to search itself to match it later
    async with sessions() as session:
        wanted = a_report("王小明", "仪陇县新政镇", age=61)
        await index_report(session, runtime, wanted)
        command = OpenSearchCase(
            person_id=uuid.uuid4(),
            station_id="gushi",
            arrived_at=NOW,
            sex="male",
            estimated_age=60,
            stated_names=["汪晓明"],
            dialect="四川话",
        )
        case_id = await open_search_case(command, UnitOfWork(session, runtime))

        proposed, opened = runtime.outbox.events
        assert isinstance(opened, SearchCaseOpenedV1) and opened.case_id == case_id
        assert isinstance(proposed, IdentityCandidateProposedV1)
        assert (proposed.case_id, proposed.missing_person_report_id) == (case_id, wanted.id)
        profile = await session.get(MatchProfile, ("case", case_id))
        assert profile.places_resolved and profile.codes == ["51"]
        await session.rollback()


async def test_a_reports_candidates_leave_out_unrelated_names_places_and_faces(sessions, runtime):
    rng = random.Random(31)
    face = a_vector(rng)
    near = [x + rng.gauss(0, 0.01) for x in face]  # the same person's other photo
    async with sessions() as session:
        related = {
            "name": a_case("李剑国", "拉萨"),  # a homophone of 李建国, far away
            "place": a_case(other_name(rng), "固始", age=58),  # same county, age close
            "city": a_case(other_name(rng), "息县", age=62),  # same city, age close
            "face": a_case(None, "广州", sex="female", age=20),  # the face overrules
            "heard": a_case(None, None),  # the name heard in a clue
        }
        unrelated = {
            "sex": a_case(other_name(rng), "固始", sex="female"),  # refused: sex differs
            "age": a_case(other_name(rng), "信阳", age=20),  # county apart, 40 years apart
            # issue 30: a province alone is no lead, however alike the rest
            "province": a_case(other_name(rng), "河南", age=60),
            "other city": a_case(other_name(rng), "郑州市金水区", age=60),
            "dialect": a_case(other_name(rng), None, age=60, dialect="河南话"),
        }
        for _ in range(300):
            unrelated[f"far-{_}"] = a_case(
                other_name(rng), rng.choice(FAR_PLACES), age=rng.randint(5, 90)
            )
        everyone = {**related, **unrelated}
        session.add_all(everyone.values())
        await session.flush()
        clue_texts = {"heard": "他反复念叨李建国这个名字"}
        for label, case in everyone.items():
            person = matching.person_profile(case, ())
            if label in clue_texts:
                person = matching.PersonProfile(case_id=case.id, texts=[clue_texts[label]])
            await matching.index_case(session, case, person, resolve)
        session.add(a_face(rng, near, case_id=related["face"].id))
        for label in list(unrelated)[:150]:  # other faces, of other people
            session.add(a_face(rng, a_vector(rng), case_id=unrelated[label].id))
        report = a_report("李建国", "固始")
        session.add(report)
        await session.flush()

        found = await cases_for(session, report, resolve, age=60, faces=[face])
        assert found == {case.id for case in related.values()}

        # a superset of what the ranking keeps, checked against every case
        wanted = matching.report_profile(report, NOW, [face])
        faces = {related["face"].id: [near]}
        kept = {
            case.id
            for label, case in everyone.items()
            if matching.compare(
                matching.PersonProfile(case_id=case.id, texts=[clue_texts[label]])
                if label in clue_texts
                else matching.person_profile(case, (), faces.get(case.id, ())),
                wanted,
                resolve,
            )
        }
        assert kept and kept <= found
        await session.rollback()


async def test_cases_indexed_without_the_gazetteer_get_their_places_at_the_next_report(
    sessions, runtime
):
    async with sessions() as session:
        case = a_case(None, "固始")
        session.add(case)
        await session.flush()
        await matching.index_case(session, case, matching.person_profile(case, ()), None)
        assert ("case", case.id) in await candidates.unresolved(session)

        report = a_report("无关名", "信阳", age=62)
        session.add(report)
        await session.flush()
        assert await matching.match_report(session, runtime, report) == 1
        assert ("case", case.id) not in await candidates.unresolved(session)
        profile = await session.get(MatchProfile, ("case", case.id))
        assert profile.codes == ["411525"] and profile.places_resolved

        # a case no longer open leaves the index when it turns up as a candidate
        case.status = "identified"
        await session.flush()
        assert await matching.match_report(session, runtime, report) == 0
        left = await session.scalar(
            select(func.count()).select_from(MatchKey).where(MatchKey.record_id == case.id)
        )
        assert left == 0
        await session.rollback()


def nearness(codes, age, ours, our_age) -> tuple[int, float]:
    """How near a record is by place (candidates' order: the best level shared, then
    the age gap, unknown last); smaller is nearer."""
    if set(codes) & set(ours):
        level = 12
    elif {c[:9] for c in codes if len(c) >= 9} & {c[:9] for c in ours if len(c) >= 9}:
        level = 9
    elif {c[:6] for c in codes if len(c) >= 6} & {c[:6] for c in ours if len(c) >= 6}:
        level = 6
    else:
        level = 4
    gap = abs(age - our_age) if age is not None and our_age is not None else float("inf")
    return -level, gap


async def test_the_candidates_cover_the_pairs_the_ranking_keeps_among_the_nearest(
    sessions, runtime
):
    # places said at every level in two provinces (and far ones), sexes and ages of
    # every kind, names that never meet: only a place can keep a pair here
    rng = random.Random(32)
    said = [*PLACES, None]
    async with sessions() as session:
        cases = [
            a_case(
                other_name(rng) if rng.random() < 0.7 else None,
                rng.choice(said),
                sex=rng.choice(["male", "female", "unknown"]),
                age=rng.choice([None, *range(40, 80)]),
                dialect=rng.choice([None, None, "河南话", "四川话"]),
            )
            for _ in range(1_200)  # a city of them past PLACE_CANDIDATES
        ]
        session.add_all(cases)
        await session.flush()
        codes_of, ages_of = {}, {}
        for case in cases:
            person = matching.person_profile(case, ())
            codes_of[case.id] = (await matching.index_case(session, case, person, resolve)).codes
            ages_of[case.id] = person.age
        kept_by_city = crowded_out = 0
        for place, sex, age in itertools.product(
            ["固始县城关镇", "固始", "信阳", "河南", "南充"],
            ["male", "female", "unknown"],
            [60, None],
        ):
            report = a_report("甲乙丙", place, sex=sex, age=age)
            wanted = matching.report_profile(report, NOW, ())
            found = await cases_for(session, report, resolve, age=wanted.age)
            kept = {}
            for case in cases:
                ranked = matching.compare(matching.person_profile(case, ()), wanted, resolve)
                if ranked is not None:
                    kept[case.id] = ranked
            ours = matching.report_blocking(report, resolve).codes
            for missed in set(kept) - found:  # only past the nearest PLACE_CANDIDATES by place
                crowded_out += 1
                far = nearness(codes_of[missed], ages_of[missed], ours, wanted.age)
                nearer = [
                    i for i in found if nearness(codes_of[i], ages_of[i], ours, wanted.age) <= far
                ]
                assert len(nearer) >= candidates.PLACE_CANDIDATES, (place, sex, age)
            for ranked in kept.values():
                place_found = ranked.finding("place")
                assert place_found.identifying and place_found.score is not None
                assert not place_found.detail.startswith("same province")
            kept_by_city += sum(
                r.finding("place").detail.startswith("same city") for r in kept.values()
            )
            if place in ("河南", "南充"):  # a province (or a city alone): no province-wide flood
                assert len(found) < len(cases) / 4
        assert kept_by_city > 0  # the city level is exercised, not only finer ones
        assert crowded_out > 0  # and the bound: kept pairs past the nearest are left out
        await session.rollback()


async def test_a_crowded_city_gives_its_nearest_records_and_never_crowds_out_the_very_place(
    sessions, runtime
):
    # more than PLACE_CANDIDATES records of the report's city: the nearest come back,
    # the one said at the very township first though its age is unknown
    rng = random.Random(33)
    async with sessions() as session:
        same_age = [a_case(other_name(rng), "信阳", age=60) for _ in range(120)]
        older = [a_case(other_name(rng), "信阳", age=64) for _ in range(150)]
        very_place = a_case(other_name(rng), "固始县城关镇", age=None)
        cases = [*same_age, *older, very_place]
        session.add_all(cases)
        await session.flush()
        for case in cases:
            await matching.index_case(session, case, matching.person_profile(case, ()), resolve)
        report = a_report("甲乙丙", "固始县城关镇", age=60)
        found = await cases_for(session, report, resolve, age=60)
        assert len(found) == candidates.PLACE_CANDIDATES
        assert very_place.id in found
        assert {c.id for c in same_age} <= found  # the age gap 0 before the gap 4
        await session.rollback()


BEFORE, AFTER = "0022matchindex", "0023citymatchkeys"


async def test_migration_0023_keys_the_index_by_city_and_gives_provinces_back(postgres):
    name = f"t_{uuid.uuid4().hex[:12]}"
    await postgres.create_databases([name])
    url = postgres.sqlalchemy_url(name)
    await asyncio.to_thread(migrations.upgrade, MIGRATIONS, url, BEFORE)
    county, province, both, stored_anew = (uuid.uuid4() for _ in range(4))
    profiles = [
        ("case", county, ["411525"], ["p|41", "n1|ming"]),
        ("report", province, ["51"], ["p|51"]),
        ("case", both, ["41", "411528", "5113", "511324101"], ["p|41", "p|51"]),
        ("report", stored_anew, ["411525"], ["c|4115"]),  # indexed by the new code already
    ]
    conn = await asyncpg.connect(postgres.dsn(name))
    try:
        for kind, record_id, codes, keys in profiles:
            await conn.execute(
                "INSERT INTO match_profiles (record_kind, record_id, codes, places_resolved) "
                "VALUES ($1, $2, $3, true)",
                kind,
                record_id,
                codes,
            )
            await conn.executemany(
                "INSERT INTO match_keys (record_kind, record_id, key) VALUES ($1, $2, $3)",
                [(kind, record_id, k) for k in keys],
            )
    finally:
        await conn.close()

    async def keys() -> dict[uuid.UUID, set[str]]:
        conn = await asyncpg.connect(postgres.dsn(name))
        try:
            rows = await conn.fetch("SELECT record_id, key FROM match_keys")
        finally:
            await conn.close()
        found: dict[uuid.UUID, set[str]] = {}
        for row in rows:
            found.setdefault(row["record_id"], set()).add(row["key"])
        return found

    await asyncio.to_thread(migrations.upgrade, MIGRATIONS, url, AFTER)
    assert await keys() == {
        county: {"c|4115", "n1|ming"},
        both: {"c|4115", "c|5113"},
        stored_anew: {"c|4115"},
    }  # a place known only to its province: no key

    await asyncio.to_thread(command.downgrade, alembic_config(MIGRATIONS, url), BEFORE)
    assert await keys() == {
        county: {"p|41", "n1|ming"},
        province: {"p|51"},
        both: {"p|41", "p|51"},
        stored_anew: {"p|41"},
    }
