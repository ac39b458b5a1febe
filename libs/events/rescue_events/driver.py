"""The asyncpg connection under SQLAlchemy, for the plumbing's own statements.

The outbox, inbox, idempotency and audit statements are few, fixed and on every
write, so they skip SQLAlchemy's execution layer (several times their cost, see
bench/README.md); business code keeps the ORM, and a service's hot SQL lives in
its ``statements`` module. Two rules keep the two in step:

- a driver statement is sent only inside a transaction SQLAlchemy's adapter has
  begun (``in_transaction``), or ``begun`` begins it the adapter's way;
- the driver's errors come out as SQLAlchemy's (``run``): a lost connection is
  an OperationalError with ``connection_invalidated``, a refused value a
  DBAPIError with its SQLSTATE.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Awaitable, Sequence
from contextlib import asynccontextmanager
from typing import Any, TypeVar

import asyncpg
from sqlalchemy import Table, text
from sqlalchemy.exc import DBAPIError, OperationalError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, AsyncSession

T = TypeVar("T")

# The database went away, or is going: a restart, a failover, a closed connection.
_LOST = (
    asyncpg.PostgresConnectionError,
    asyncpg.InterfaceError,
    asyncpg.exceptions.OperatorInterventionError,
    OSError,
)


def table_name(table: Table) -> str:
    """The table's name as the driver's SQL text writes it (with its schema, if any)."""
    return f"{table.schema}.{table.name}" if table.schema else table.name


def upsert_sql(table: Table, columns: Sequence[str], *, key: str) -> str:
    """An INSERT of ``columns`` (parameters $1, $2 … in their order) that replaces
    the other columns of the row already there with the same ``key``: a service's
    projection of what events told it."""
    placeholders = ", ".join(f"${n}" for n in range(1, len(columns) + 1))
    replaced = ", ".join(f"{c} = excluded.{c}" for c in columns if c != key)
    return (
        f"INSERT INTO {table_name(table)} ({', '.join(columns)}) VALUES ({placeholders}) "
        f"ON CONFLICT ({key}) DO UPDATE SET {replaced}"
    )


async def _driver_of(connection: AsyncConnection) -> Any:
    return (await connection.get_raw_connection()).driver_connection


_CACHED = "rescue_events.driver"


def _remembered(session: AsyncSession) -> Any | None:
    """The driver ``session`` remembered for its current transaction, if any."""
    transaction = session.sync_session.get_transaction()
    cached = session.info.get(_CACHED)
    if cached is not None and transaction is not None and cached[0] is transaction:
        return cached[1]
    return None


def _remember(session: AsyncSession, driver: Any) -> None:
    session.info[_CACHED] = (session.sync_session.get_transaction(), driver)


async def in_transaction(executor: AsyncSession | AsyncConnection) -> Any | None:
    """The asyncpg connection of ``executor``'s transaction, or None if no statement
    has begun it yet.

    A session remembers it for the rest of its transaction (in ``session.info``,
    with the transaction it belongs to): finding it costs two greenlet hops, more
    than the statement a consumer then sends for each event."""
    if isinstance(executor, AsyncSession):
        if (driver := _remembered(executor)) is not None:
            return driver
        connection = await executor.connection()
    else:
        connection = executor
    driver = await _driver_of(connection)
    if not driver.is_in_transaction():
        return None
    if isinstance(executor, AsyncSession):
        _remember(executor, driver)
    return driver


async def begun(session: AsyncSession) -> Any:
    """The asyncpg connection of ``session``'s transaction, begun if no statement has
    begun it yet, the way SQLAlchemy's adapter begins it, so its commit ends it.

    Changes the session holds are flushed first, as SQLAlchemy's autoflush does
    before a query: what the caller then reads on the driver includes them."""
    if session.new or session.dirty or session.deleted:
        await session.flush()
    if (driver := _remembered(session)) is not None:
        return driver
    # Each step below is a greenlet hop; a consumer begins a transaction for every
    # fetch, so they are taken once each (a connection, its raw connection).
    raw = await (await session.connection()).get_raw_connection()
    driver = raw.driver_connection
    if not driver.is_in_transaction():
        adapter = raw.dbapi_connection
        start = getattr(adapter, "_start_transaction", None)
        if start is not None and getattr(adapter, "_transaction", None) is None:
            # What the adapter does before its first statement (SQLAlchemy 2.1, pinned):
            # BEGIN at the connection's isolation level, tracked for its commit and
            # rollback.
            await run("BEGIN", start())
        else:  # an adapter without it: its first statement begins the transaction
            await session.execute(text("SELECT 1"))
    _remember(session, driver)
    return driver


@asynccontextmanager
async def autocommit(engine: AsyncEngine) -> AsyncIterator[Any]:
    """A pooled connection's driver outside any transaction: each statement commits
    by itself, for a statement atomic on its own (``rescue_chassis.writes.Writes``
    with a claim: one round trip instead of BEGIN, the statement and COMMIT). A
    connection lost meanwhile is invalidated, never pooled again."""
    async with engine.connect() as connection:
        driver = await _driver_of(connection)
        try:
            yield driver
        except OperationalError as exc:
            if exc.connection_invalidated:
                await connection.invalidate()
            raise


@asynccontextmanager
async def own_transaction(engine: AsyncEngine) -> AsyncIterator[Any]:
    """A pooled connection's driver in a transaction of its own (the audit's group),
    as ``transaction_on``."""
    async with engine.connect() as connection, transaction_on(connection) as driver:
        yield driver


@asynccontextmanager
async def transaction_on(connection: AsyncConnection) -> AsyncIterator[Any]:
    """The driver of ``connection`` (held by the caller) in a transaction: committed
    at the end, rolled back on any error. A connection whose rollback fails is gone:
    it is invalidated, never put back in the pool mid-transaction."""
    driver = await _driver_of(connection)
    transaction = driver.transaction()
    await run("BEGIN", transaction.start())
    try:
        yield driver
    except BaseException:
        try:
            await transaction.rollback()
        except Exception:
            await connection.invalidate()
        raise
    await run("COMMIT", transaction.commit())


async def run(statement: str, call: Awaitable[T]) -> T:
    """Await a driver call; its errors raised as SQLAlchemy's (see the module docstring).

    A driver error that SQLAlchemy's adapter already wrapped in its own DBAPI error
    (as its BEGIN does, in ``begun``) is read through to the driver's error."""
    try:
        return await call
    except Exception as exc:
        translated = _as_sqlalchemy(statement, exc) or _as_sqlalchemy(statement, exc.__cause__)
        if translated is None:
            raise
        raise translated from exc


def _as_sqlalchemy(statement: str, exc: BaseException | None) -> DBAPIError | None:
    if isinstance(exc, _LOST):
        return OperationalError(statement, None, exc, connection_invalidated=True)
    if isinstance(exc, asyncpg.PostgresError):
        return DBAPIError(statement, None, exc)
    return None


def jsonb(value: Any) -> str:
    """A JSONB parameter for the driver: text (the codec SQLAlchemy's dialect
    installs on its connections takes text, as asyncpg's own does)."""
    return json.dumps(value)


def from_jsonb(value: Any) -> Any:
    """A JSONB column as the driver hands it over: decoded by SQLAlchemy's codec, or
    text without one."""
    return json.loads(value) if isinstance(value, str) else value
