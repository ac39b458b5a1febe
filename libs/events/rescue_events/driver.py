"""The asyncpg connection under SQLAlchemy, for the plumbing's own statements.

Every write stages events, stores an idempotency key, and appends an audit
entry. Through SQLAlchemy's execution layer one such INSERT costs about 150 µs
of CPU; on the driver about 20 µs (measured on this machine). The plumbing's
statements are few, fixed and written once, so they go to the driver; the
business code keeps the ORM.

Two rules keep the two in step:

- SQLAlchemy's asyncpg adapter begins its transaction lazily, at the first
  statement it executes: a driver statement is sent only inside a transaction
  already begun (``in_transaction``); before that, the caller uses SQLAlchemy.
- The driver's errors come out as SQLAlchemy's (``run``), so everything that
  reads them reads them as before: a lost connection is an OperationalError with
  ``connection_invalidated`` (a 503 with Retry-After in a request, a transient
  failure in a consumer), a refused value a DBAPIError with its SQLSTATE.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Awaitable
from contextlib import asynccontextmanager
from typing import Any, TypeVar

import asyncpg
from sqlalchemy import Table
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


async def _driver_of(connection: AsyncConnection) -> Any:
    return (await connection.get_raw_connection()).driver_connection


async def in_transaction(executor: AsyncSession | AsyncConnection) -> Any | None:
    """The asyncpg connection of ``executor``'s transaction, or None if no statement
    has begun it yet."""
    connection = await executor.connection() if isinstance(executor, AsyncSession) else executor
    driver = await _driver_of(connection)
    return driver if driver.is_in_transaction() else None


@asynccontextmanager
async def own_transaction(engine: AsyncEngine) -> AsyncIterator[Any]:
    """A pooled connection's driver in a transaction of its own (the relay's sweep,
    the audit's group): committed at the end, rolled back on any error. A connection
    whose rollback fails is gone: it is dropped, never put back mid-transaction."""
    async with engine.connect() as connection:
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
    """Await a driver call; its errors raised as SQLAlchemy's (see the module docstring)."""
    try:
        return await call
    except _LOST as exc:
        raise OperationalError(statement, None, exc, connection_invalidated=True) from exc
    except asyncpg.PostgresError as exc:
        raise DBAPIError(statement, None, exc) from exc


def jsonb(value: Any) -> str:
    """A JSONB parameter for the driver: text (the codec SQLAlchemy's dialect
    installs on its connections takes text, as asyncpg's own does)."""
    return json.dumps(value)


def from_jsonb(value: Any) -> Any:
    """A JSONB column as the driver hands it over: decoded by SQLAlchemy's codec, or
    text without one."""
    return json.loads(value) if isinstance(value, str) else value
