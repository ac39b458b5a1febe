"""The plumbing's driver statements fail the way SQLAlchemy's do (rescue_events.driver),
so requests and consumers read their errors as before."""

from __future__ import annotations

import asyncpg
import pytest
from sqlalchemy.exc import DBAPIError, OperationalError

from rescue_chassis.problems import database_problem
from rescue_events.consumer import is_transient
from rescue_events.driver import from_jsonb, jsonb, run


async def failing(exc: BaseException):
    raise exc


@pytest.mark.parametrize(
    "lost",
    [
        asyncpg.ConnectionDoesNotExistError("connection was closed in the middle of operation"),
        asyncpg.InterfaceError("connection is closed"),
        asyncpg.exceptions.AdminShutdownError("terminating connection due to administrator"),
        ConnectionResetError("reset by peer"),
    ],
)
async def test_a_lost_connection_is_a_503_in_a_request_and_transient_in_a_consumer(lost):
    with pytest.raises(OperationalError) as raised:
        await run("INSERT INTO outbox …", failing(lost))
    assert raised.value.connection_invalidated
    assert raised.value.orig is lost
    assert is_transient(raised.value)  # a consumer waits for the database, no dead letter
    problem = database_problem(raised.value)
    assert problem is not None and problem.status == 503


async def test_a_refused_value_keeps_its_sqlstate_for_the_problem_answer():
    conflict = asyncpg.UniqueViolationError("duplicate key value")
    with pytest.raises(DBAPIError) as raised:
        await run("INSERT INTO idempotency_keys …", failing(conflict))
    assert not raised.value.connection_invalidated
    assert not is_transient(raised.value)
    problem = database_problem(raised.value)
    assert problem is not None and problem.status == 409


async def test_what_succeeds_is_returned_as_it_is():
    async def key():
        return "k-1"

    assert await run("INSERT … RETURNING key", key()) == "k-1"


def test_jsonb_goes_as_text_and_comes_back_decoded_either_way():
    value = {"person_id": "b9d7…", "names": ["王小明"]}
    assert from_jsonb(jsonb(value)) == value  # text, as asyncpg's own codec gives it
    assert from_jsonb(value) == value  # already decoded by SQLAlchemy's codec


async def test_a_lost_connection_wrapped_by_sqlalchemys_adapter_is_still_transient():
    """``begun`` begins through SQLAlchemy's asyncpg adapter, which wraps the driver's
    error in a DBAPI error of its own: read through, it is a lost connection still."""
    lost = asyncpg.ConnectionDoesNotExistError("connection was closed in the middle of operation")

    async def adapter_begin():
        try:
            raise lost
        except asyncpg.PostgresError as exc:
            raise RuntimeError("adapter's InterfaceError") from exc

    with pytest.raises(OperationalError) as raised:
        await run("BEGIN", adapter_begin())
    assert raised.value.orig is lost
    assert is_transient(raised.value)


async def test_an_error_that_is_not_the_drivers_passes_unchanged():
    with pytest.raises(KeyError):
        await run("SELECT …", failing(KeyError("not a database error")))
