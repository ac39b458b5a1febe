"""Whatever a timestamptz column holds, a service's engine reads it as an aware UTC
datetime (issue 22): asyncpg's own codec answered ±infinity with a naive
datetime.min/max (and wrote year 1 at 00:00Z as -infinity), and one such arrival
made every list of its station answer 500. On the real embedded Postgres."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta, timezone

import pytest
from sqlalchemy import text

from rescue_chassis.db import create_engine

pytestmark = pytest.mark.integration

FIRST = datetime.min.replace(tzinfo=UTC)
LAST = datetime.max.replace(tzinfo=UTC)


@pytest.fixture
async def engine(postgres):
    engine = create_engine(postgres.sqlalchemy_url("postgres"))
    yield engine
    await engine.dispose()


async def stored(engine, literal: str) -> datetime:
    async with engine.connect() as connection:
        return await connection.scalar(text(f"select '{literal}'::timestamptz"))  # noqa: S608


@pytest.mark.parametrize(
    ("literal", "expected"),
    [
        ("-infinity", FIRST),
        ("infinity", LAST),
        ("0001-01-01 00:00:00+00", FIRST),
        ("0044-03-15 12:00:00+00 BC", FIRST),
        ("294276-12-31 23:59:59+00", LAST),
        ("9999-12-31 23:59:59.999999+00", LAST),
        ("2026-11-23 07:30:00+08", datetime(2026, 11, 22, 23, 30, tzinfo=UTC)),
    ],
)
async def test_every_stored_timestamptz_reads_as_an_aware_utc_datetime(engine, literal, expected):
    found = await stored(engine, literal)
    assert found == expected
    assert found.utcoffset() == timedelta(0)


@pytest.mark.parametrize(
    "value",
    [
        datetime(1, 1, 1, tzinfo=UTC),
        datetime(9999, 12, 31, 23, 59, 59, 999999, tzinfo=UTC),
        datetime(2026, 11, 23, 7, 30, tzinfo=timezone(timedelta(hours=8))),
        datetime(1950, 1, 1, tzinfo=UTC),
    ],
)
async def test_a_datetime_is_written_as_it_is_not_as_infinity(engine, value):
    async with engine.connect() as connection:
        found = await connection.execute(
            text("select cast(:v as timestamptz), isfinite(cast(:v as timestamptz))"),
            {"v": value},
        )
        back, finite = found.one()
    assert finite is True
    assert back == value and back.utcoffset() == timedelta(0)


async def test_a_naive_datetime_or_a_date_is_local_time_as_before(engine):
    naive = datetime(2026, 11, 23, 7, 30)
    async with engine.connect() as connection:
        back = await connection.scalar(text("select cast(:v as timestamptz)"), {"v": naive})
        day = await connection.scalar(
            text("select cast(:v as timestamptz)"), {"v": date(2026, 1, 2)}
        )
    assert back == naive.astimezone()
    assert day == datetime(2026, 1, 2).astimezone()
