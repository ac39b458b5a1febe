"""The person-name index on the real embedded Postgres: homophones found and
ranked, typed pinyin, idempotent indexing, removal."""

from __future__ import annotations

import uuid
from pathlib import Path

import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import async_sessionmaker, create_async_engine
from support import migrated_database

from search.names import find_names, index_name, index_names, unindex
from search.tables import NameEntry

pytestmark = pytest.mark.integration

MIGRATIONS = Path(__file__).resolve().parents[2] / "services" / "search" / "migrations"

NAMES = {
    "王小明": ("case", "gushi"),
    "汪晓明": ("case", "xinyang"),
    "王晓林": ("report", "gushi"),
    "黄小明": ("case", "zhengzhou"),
    "李小明": ("report", "xinyang"),
    "张伟": ("case", "gushi"),
    "臧伟": ("report", "gushi"),
    "李建国": ("case", "gushi"),
    "曾国强": ("report", "gushi"),
    "欧阳明": ("case", "gushi"),
    "刘德华": ("case", "gushi"),
}


@pytest.fixture(scope="module")
async def sessions(postgres):
    url = await migrated_database(postgres, MIGRATIONS)
    engine = create_async_engine(url)
    yield async_sessionmaker(engine, expire_on_commit=False)
    await engine.dispose()


@pytest.fixture(scope="module")
async def ids(sessions):
    ids = {}
    async with sessions() as session:
        for name, (kind, station) in NAMES.items():
            ids[name] = uuid.uuid4()
            await index_name(
                session,
                record_kind=kind,
                record_id=ids[name],
                station_id=station,
                name=name,
                person_id=uuid.uuid4() if kind == "case" else None,
            )
        await session.commit()
    return ids


async def test_homophones_are_found_and_ranked(sessions, ids):
    async with sessions() as session:
        found = await find_names(session, "王小明")
    names = [m.name for m in found]
    assert names[:2] == ["王小明", "汪晓明"]
    first, second = found[0], found[1]
    assert (first.score, first.verdict, first.record_id) == (1.0, "match", ids["王小明"])
    assert first.person_id is not None and first.station_id == "gushi"
    assert second.verdict == "match" and "homophone: 王/汪" in second.why
    # the h/w merger (黄/王) is a dialect match, as for places, after the homophones
    huang = next(m for m in found if m.name == "黄小明")
    assert huang.verdict == "match" and huang.score < second.score
    # near-homophones and the given name alone come after, as close
    close = {m.name: m for m in found if m.verdict == "close"}
    assert {"李小明", "王晓林"} <= set(close)
    assert "one syllable differs" in close["王晓林"].why
    assert "李建国" not in names
    scores = [m.score for m in found]
    assert scores == sorted(scores, reverse=True)


async def test_typed_pinyin_and_dialect(sessions, ids):
    async with sessions() as session:
        typed = await find_names(session, "Wang Xiaoming")
        dialect = await find_names(session, "zang wei")
        zeng = await find_names(session, "zeng guo qiang")
        ouyang = await find_names(session, "ouyang ming")
        niu = await find_names(session, "牛德华")
    assert {m.name for m in typed if m.verdict == "match"} == {"王小明", "汪晓明", "黄小明"}
    assert [m.name for m in typed][:2] in (["王小明", "汪晓明"], ["汪晓明", "王小明"])
    assert "same reading (wang xiao ming)" in typed[0].why
    # the southern speaker's "zang wei": 臧伟 exactly, 张伟 by zh/z
    assert [m.name for m in dialect][:2] == ["臧伟", "张伟"]
    assert "dialect: zh/z" in dialect[1].why
    assert zeng[0].name == "曾国强" and zeng[0].verdict == "match"
    assert ouyang[0].name == "欧阳明" and ouyang[0].verdict == "match"
    assert niu[0].name == "刘德华" and "dialect: n/l" in niu[0].why


async def test_kinds_and_limit(sessions, ids):
    async with sessions() as session:
        reports = await find_names(session, "王小明", kinds=("report",))
        top = await find_names(session, "王小明", limit=1)
        nothing = await find_names(session, "司马相如")
        placeholder = await find_names(session, "不详")
    assert reports and {m.record_kind for m in reports} == {"report"}
    assert [m.name for m in top] == ["王小明"]
    assert nothing == [] and placeholder == []


async def test_indexing_is_idempotent_and_names_can_be_replaced(sessions):
    record = uuid.uuid4()

    async def rows(session) -> list[str]:
        result = await session.execute(
            select(NameEntry.name, func.count())
            .where(NameEntry.record_id == record)
            .group_by(NameEntry.name)
            .order_by(NameEntry.name)
        )
        return [f"{name}:{count}" for name, count in result.all()]

    async with sessions() as session:
        for _ in range(3):
            n = await index_name(
                session, record_kind="case", record_id=record, station_id="gushi", name="曾长乐"
            )
            assert n == 6  # 长 zhang/chang × 乐 le/lao/yue; the surname 曾 only "zeng"
        assert await rows(session) == ["曾长乐:6"]
        assert (
            await index_name(
                session, record_kind="case", record_id=record, station_id="gushi", name="不详"
            )
            == 0
        )
        await index_names(
            session,
            record_kind="case",
            record_id=record,
            station_id="gushi",
            names=["马小红", "小红"],
        )
        await session.commit()
        assert await rows(session) == ["小红:2", "马小红:2"]  # 红: hong, gong
        found = await find_names(session, "小红")
        assert found[0].record_id == record and found[0].verdict == "match"


async def test_unindex_removes_every_name_of_a_record(sessions, ids):
    record = uuid.uuid4()
    async with sessions() as session:
        for name in ("赵铁柱", "铁柱"):
            await index_name(
                session, record_kind="report", record_id=record, station_id="gushi", name=name
            )
        await session.commit()
        assert [m.record_id for m in await find_names(session, "赵铁柱")][:1] == [record]
        assert await unindex(session, "report", record) == 2
        await session.commit()
        assert await find_names(session, "赵铁柱") == []
        assert await unindex(session, "report", record) == 0
