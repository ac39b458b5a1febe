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
from collections.abc import Awaitable
from typing import Any, TypeVar

import asyncpg
from sqlalchemy.exc import DBAPIError, OperationalError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession

T = TypeVar("T")

# The database went away, or is going: a restart, a failover, a closed connection.
_LOST = (
    asyncpg.PostgresConnectionError,
    asyncpg.InterfaceError,
    asyncpg.exceptions.OperatorInterventionError,
    OSError,
)


async def in_transaction(executor: AsyncSession | AsyncConnection) -> Any | None:
    """The asyncpg connection of ``executor``'s transaction, or None if no statement
    has begun it yet."""
    connection = await executor.connection() if isinstance(executor, AsyncSession) else executor
    driver = (await connection.get_raw_connection()).driver_connection
    return driver if driver.is_in_transaction() else None


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
