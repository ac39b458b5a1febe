from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, date, datetime, timedelta
from typing import Annotated

from fastapi import Depends, Request
from sqlalchemy import event
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)


def create_engine(url: str) -> AsyncEngine:
    # No pre-ping: it costs a round trip per checkout, per request. A connection
    # lost to a database restart fails its request once (503 with Retry-After,
    # rescue_chassis.problems; station apps retry with their Idempotency-Key), and
    # SQLAlchemy then drops every pooled connection older than the failure.
    engine = create_async_engine(url, pool_size=10, max_overflow=10, pool_recycle=1800)
    event.listen(engine.sync_engine, "connect", _aware_timestamps)
    return engine


# ---- timestamptz: always an aware datetime, whatever is stored -----------------------
#
# asyncpg's own codec answers Postgres' ±infinity with a *naive* datetime.min/max,
# and writes an aware 0001-01-01T00:00:00Z (or 9999-12-31T23:59:59.999999Z) *as*
# ±infinity: one arrival typed as year 1 came back naive and every list sorting or
# comparing it answered 500 (issue 22). This codec writes every value as it is and
# reads every stored value as an aware UTC datetime: ±infinity, and what lies beyond
# Python's years (BC), as the first or last instant Python has.

_PG_EPOCH = datetime(2000, 1, 1, tzinfo=UTC)
_PG_INFINITY = 2**63 - 1
_PG_NEGATIVE_INFINITY = -(2**63)
_FIRST = datetime.min.replace(tzinfo=UTC)
_LAST = datetime.max.replace(tzinfo=UTC)
_MICROSECOND = timedelta(microseconds=1)


def timestamptz_out(value: datetime | date) -> tuple[int]:
    """A datetime (or date) as Postgres' microseconds since 2000-01-01 UTC. A naive
    value or a date is local time, as asyncpg's own codec takes it."""
    if not isinstance(value, datetime):
        value = datetime(value.year, value.month, value.day)
    if value.utcoffset() is None:
        value = value.astimezone()
    return ((value - _PG_EPOCH) // _MICROSECOND,)


def timestamptz_in(value: tuple[int]) -> datetime:
    """Postgres' microseconds since 2000-01-01 UTC as an aware UTC datetime."""
    (microseconds,) = value
    if microseconds == _PG_INFINITY:
        return _LAST
    if microseconds == _PG_NEGATIVE_INFINITY:
        return _FIRST
    try:
        return _PG_EPOCH + microseconds * _MICROSECOND
    except OverflowError:  # BC, or beyond year 9999
        return _LAST if microseconds > 0 else _FIRST


def _aware_timestamps(dbapi_connection, _record) -> None:
    dbapi_connection.run_async(
        lambda connection: connection.set_type_codec(
            "timestamptz",
            schema="pg_catalog",
            encoder=timestamptz_out,
            decoder=timestamptz_in,
            format="tuple",
        )
    )


def session_factory(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    # expire_on_commit=False: routes read what they wrote after the commit.
    return async_sessionmaker(engine, expire_on_commit=False)


async def _session(request: Request) -> AsyncIterator[AsyncSession]:
    async with request.app.state.runtime.sessions() as session:
        yield session


SessionDep = Annotated[AsyncSession, Depends(_session)]
