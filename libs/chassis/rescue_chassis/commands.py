"""Running a use case: its transaction, its Idempotency-Key, its events, its commit.

A route validates, builds a command and runs it::

    @router.post("/{case_id}/identity-confirmation", response_model=ConfirmedIdentityView)
    async def confirm_identity(case_id: uuid.UUID, body: IdentityConfirmation, run: Run):
        return await run(commands.confirm_identity, ConfirmIdentity(case_id=case_id, ...))

A use case is ``async def use_case(command, uow) -> answer``: the command is a
pydantic model the use case owns, ``uow`` the ``UnitOfWork`` of this module (or
``rescue_chassis.testing.FakeUnitOfWork`` in a unit test), and a no is one of
``rescue_chassis.refusals``. Event consumers call the same use cases with a
unit of work on their own transaction (``UnitOfWork(session, runtime)``).

The runner owns what every write repeats: a retry with the same key gets the
first answer back (to the same caller only), a key reused for another request
is a 409, the answer is remembered in the same transaction as the rows and
events, the write's audit entry is staged in it too (rescue_chassis.audit: no
write commits without its entry), and the commit. A use case marked
``single_statement`` (it only adds rows and events) is sent as one statement in
autocommit, the idempotency record as its claim: the fast lane of
``rescue_chassis.writes``.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable
from datetime import UTC, datetime
from typing import Annotated, Any, Protocol, TypeVar

from fastapi import Depends, Request, Response
from fastapi.encoders import jsonable_encoder
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from rescue_chassis.access import can_see
from rescue_chassis.audit.middleware import WriteRecord, write_record
from rescue_chassis.auth import Principal, principal_of
from rescue_chassis.idempotency import (
    IDEMPOTENCY_HEADER,
    IdempotentRequest,
    RequestKey,
    request_key,
)
from rescue_chassis.network import Network
from rescue_chassis.refusals import Conflict, NotFound
from rescue_chassis.runtime import Runtime
from rescue_chassis.writes import Writes
from rescue_events.contracts.base import EventContract
from rescue_events.driver import autocommit
from rescue_events.outbox import StagedEvent

T = TypeVar("T")
C = TypeVar("C", bound=BaseModel)
UseCase = Callable[[C, "UnitOfWork"], Awaitable[Any]]


class Command(BaseModel):
    """What a use case is asked to do: its own input model, checked on arrival."""

    model_config = ConfigDict(extra="forbid")


def _stations(row: Any) -> str | Iterable[str]:
    return row.station_id


class UnitOfWork:
    """A use case's view of its transaction: who asks and when, rows and events.

    ``session`` is the escape hatch for a service's own queries (its
    ``statements`` module); ``get``, ``load``, ``find``, ``add`` and ``publish``
    are all a use case needs otherwise, and all a fake has to provide."""

    def __init__(
        self,
        session: AsyncSession,
        runtime: Runtime,
        actor: Principal | None = None,
        *,
        now: datetime | None = None,
    ) -> None:
        self.session = session
        self.runtime = runtime
        self.actor = actor
        self.now = now or datetime.now(UTC)

    @property
    def network(self) -> Network:
        return self.runtime.network

    @property
    def settings(self) -> Any:
        return self.runtime.settings

    def sees(self, *station_ids: str) -> bool:
        """Whether the caller sees rows of these stations (a consumer sees all)."""
        return self.actor is None or can_see(self.actor, self.network, *station_ids)

    async def get(self, model: type[T], key: Any, *, lock: bool = False) -> T | None:
        return await self.session.get(model, key, with_for_update=lock)

    async def load(
        self,
        model: type[T],
        key: Any,
        *,
        what: str,
        lock: bool = False,
        stations: Callable[[T], str | Iterable[str]] = _stations,
    ) -> T:
        """The row, or a 404 when there is none or it is outside the caller's scope."""
        return visible(await self.get(model, key, lock=lock), self, what, stations)

    async def find(
        self, model: type[T], *, order_by: Any = None, lock: bool = False, **equal: Any
    ) -> list[T]:
        """Rows whose columns equal the given values (None: IS NULL), in ``order_by``
        order; ``lock``: FOR UPDATE."""
        query = select(model).filter_by(**equal)
        if order_by is not None:
            query = query.order_by(order_by)
        if lock:
            query = query.with_for_update()
        return list((await self.session.scalars(query)).all())

    def add(self, *rows: Any) -> None:
        self.session.add_all(rows)

    async def publish(self, event: EventContract) -> StagedEvent:
        """The event, staged in this transaction's outbox: sent only if it commits."""
        return await self.runtime.outbox.stage(self.session, event)

    async def flush(self) -> None:
        await self.session.flush()

    async def commit(self) -> None:
        """Keep what was done so far, whatever follows: for a use case that then calls
        the world outside (the runner goes on in a new transaction of the session)."""
        await self.session.commit()


def visible(
    row: T | None,
    uow: Any,
    what: str,
    stations: Callable[[T], str | Iterable[str]] = _stations,
) -> T:
    """``row`` if the caller may see it; otherwise, or if there is none, a 404."""
    if row is None:
        raise NotFound(what)
    found = stations(row)
    if not uow.sees(*([found] if isinstance(found, str) else found)):
        raise NotFound(what)
    return row


async def load(
    session: AsyncSession,
    runtime: Runtime,
    actor: Principal | None,
    model: type[T],
    key: Any,
    *,
    what: str,
    lock: bool = False,
    stations: Callable[[T], str | Iterable[str]] = _stations,
) -> T:
    """``UnitOfWork.load`` for a reading route: a 404 outside the caller's scope."""
    return await UnitOfWork(session, runtime, actor).load(
        model, key, what=what, lock=lock, stations=stations
    )


class _Statement(UnitOfWork):
    """A single-statement use case's unit of work: rows and events only, sent
    together as one statement by the runner."""

    def __init__(self, runtime: Runtime, actor: Principal | None) -> None:
        super().__init__(None, runtime, actor)  # type: ignore[arg-type]
        self.writes = Writes(runtime.engine.dialect)  # its key ring seals encrypted columns

    async def get(self, model, key, *, lock=False):
        raise TypeError("a single-statement use case reads nothing")

    async def find(self, model, *, order_by=None, lock=False, **equal):
        raise TypeError("a single-statement use case reads nothing")

    def add(self, *rows: Any) -> None:
        for row in rows:
            self.writes.insert(row)

    async def publish(self, event: EventContract) -> StagedEvent:
        return self.runtime.outbox.stage_in(self.writes, event)

    async def flush(self) -> None:
        return None

    async def commit(self) -> None:
        raise TypeError("a single-statement use case is committed by the runner")


class _Lane(Protocol):
    def __call__(self, command: Any) -> bool: ...


def single_statement(when: _Lane = lambda command: True):
    """Marks a use case that only adds rows and publishes events (for the commands
    ``when`` accepts): the runner sends it in one statement, in autocommit."""

    def mark(use_case):
        use_case.single_statement = when
        return use_case

    return mark


def answer_of(result: Any) -> Any:
    """The answer as JSON, as it is stored for a replay."""
    if isinstance(result, BaseModel):
        # What jsonable_encoder makes of a model, without walking the dump again.
        return result.model_dump(mode="json", by_alias=True)
    return jsonable_encoder(result)


class Runner:
    """Runs a route's command (see the module docstring); one per request."""

    def __init__(
        self,
        runtime: Runtime,
        actor: Principal,
        key: RequestKey | None,
        status: int,
        response: Response,
        audit: WriteRecord | None = None,
    ) -> None:
        self.runtime = runtime
        self.actor = actor
        self.key = key
        self.status = status
        self.response = response
        self.audit = audit

    async def __call__(self, use_case: UseCase, command: BaseModel, *, location: str | None = None):
        """Run ``use_case`` on ``command``; ``location`` is a template of the answer's
        fields ("/persons/{id}") for a Location header."""
        lane = getattr(use_case, "single_statement", None)
        if lane is not None and lane(command):
            return await self._in_one_statement(use_case, command, location)
        async with self.runtime.sessions() as session:
            request = await IdempotentRequest.check(
                session, self.runtime.tables.idempotency, self.key, self.actor, command
            )
            if request.replayed:
                return _replayed(request, location)
            result = await use_case(command, UnitOfWork(session, self.runtime, self.actor))
            await session.flush()
            answer = answer_of(result)
            if self.audit is not None:
                await self.audit.stage(session, self.actor, self.status, answer)
            await request.remember(session, self.status, answer)
            await session.commit()
        if self.audit is not None:
            self.audit.committed()
        return self._answered(result, answer, location)

    async def _in_one_statement(self, use_case: UseCase, command: BaseModel, location):
        request = IdempotentRequest.of(
            self.runtime.tables.idempotency,
            self.key,
            self.actor,
            command,
            engine=self.runtime.engine,
        )
        uow = _Statement(self.runtime, self.actor)
        try:
            result = await use_case(command, uow)
        except Exception:
            # A retry is answered as the first request was, even where the rules
            # would now refuse it (as a key read first would have).
            if request.key is not None:
                async with autocommit(self.runtime.engine) as driver:
                    await request.read_stored(driver)
                if request.replayed:
                    return _replayed(request, location)
            raise
        answer = answer_of(result)
        request.claim_in(uow.writes, self.status, answer)
        if self.audit is not None:  # one more row of the statement: no extra round trip
            self.audit.stage_in(uow.writes, self.actor, self.status, answer)
        # A pooled connection for the statement only, not for the rules above.
        async with autocommit(self.runtime.engine) as driver:
            await uow.writes.send(driver)
            if uow.writes.claimed is False:  # the key's record is there: nothing written
                await request.read_stored(driver)
                if not request.replayed:  # gone again meanwhile (expired)
                    raise Conflict("Request in progress", "Retry with the same key shortly.")
                return _replayed(request, location)
        if self.audit is not None:
            self.audit.committed()
        return self._answered(result, answer, location)

    def _answered(self, result: Any, answer: Any, location: str | None):
        # The answer as JSON is encoded once, for the replay, the audit and the Location.
        if location is not None:
            self.response.headers["Location"] = location.format_map(answer)
        return result


def _replayed(request: IdempotentRequest, location: str | None) -> JSONResponse:
    headers = None
    if location is not None and isinstance(request.stored_response, dict):
        headers = {"Location": location.format_map(request.stored_response)}
    return JSONResponse(request.stored_response, status_code=request.stored_status, headers=headers)


async def _runner(
    request: Request,
    response: Response,
    key: Annotated[str | None, IDEMPOTENCY_HEADER] = None,
) -> Runner:
    # The caller, the runtime and the key read here rather than as dependencies of
    # their own: each is a node FastAPI solves on every write. Every business route
    # checks roles (rescue_chassis.access), so the caller is verified already.
    scope = request.scope
    route = scope.get("route")
    status = getattr(route, "status_code", None) or 200
    principal = await principal_of(request)
    runtime = request.app.state.runtime
    key_ = request_key(request, key)
    return Runner(runtime, principal, key_, status, response, write_record(scope))


#: The route parameter of every route that changes something: ``run: Run``.
Run = Annotated[Runner, Depends(_runner)]
