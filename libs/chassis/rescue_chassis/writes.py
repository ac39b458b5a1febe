"""A transaction's inserts sent to the driver as one statement: one round trip.

Each insert becomes a data-modifying CTE (``WITH w0 AS (INSERT …), w1 AS
(INSERT …) SELECT …``): Postgres runs each once, with one snapshot, and checks
foreign keys at the end of the statement, so a stay may name the person
inserted beside it. Inside the caller's transaction nothing is committed until
the caller commits.

With a claim (``claim``: an ``INSERT … ON CONFLICT DO NOTHING RETURNING``, an
idempotency record), every other insert happens only if the claim inserted its
row. Such a statement is atomic by itself, so it may be sent in autocommit: the
fast lane of ``rescue_chassis.commands.single_statement``.

More than Postgres's 32,767 parameters (a new case's proposals at a nation's scale)
go as several such statements in order, in the caller's transaction: atomic at
its commit, a row naming one in an earlier statement as before; a claim's
statement is never split.

Only for plain rows (no server-side defaults to read back, nothing a column
type converts but encryption): ``insert`` refuses a column it cannot write as the
ORM would. An encrypted column (rescue_chassis.crypto) is sealed with the key ring
of the dialect the writes were made for, as its column type would.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable
from contextlib import nullcontext
from functools import cache, lru_cache
from typing import Any, TypeVar

from opentelemetry import trace
from opentelemetry.trace import SpanKind
from sqlalchemy import Table, types
from sqlalchemy.engine import Dialect

from rescue_chassis.crypto import EncryptedText
from rescue_chassis.telemetry import spans_recorded
from rescue_events.driver import jsonb, run, table_name

_PLACEHOLDER = re.compile(r"\$(\d+)")
_TARGET = re.compile(r"^\s*INSERT\s+INTO\s+(\S+)", re.IGNORECASE)
# A one-row insert's VALUES, the only form a claim can make conditional.
_VALUES = re.compile(r"\)\s+VALUES\s+\(([^()]*)\)\s*$", re.IGNORECASE)
tracer = trace.get_tracer("rescue_chassis.writes")
# The protocol counts a statement's parameters in 16 bits (asyncpg refuses more).
MAX_PARAMETERS = 32_767
T = TypeVar("T")


class Writes:
    def __init__(self, dialect: Dialect | None = None) -> None:
        self.dialect = dialect  # the engine's: its key ring seals encrypted columns
        self._parts: list[tuple[str, str]] = []  # (name, INSERT)
        self._targets: list[str] = []  # the tables written, for the span's name
        self._args: list[Any] = []
        self._counts: list[int] = []  # each part's number of parameters
        self._checks: list[tuple[str, Callable[[int], None]]] = []
        self._claim: str | None = None  # the name of the claim's part, once claimed
        self.claimed: bool | None = None  # after send(), with a claim: did it insert?

    def add(self, sql: str, *args: Any, then: Callable[[int], None] | None = None) -> None:
        """One INSERT (parameters $1, $2 … of its own). With ``then``, it must end in
        RETURNING: ``then`` gets how many rows it inserted, after the statement ran,
        and may raise (an ON CONFLICT DO NOTHING that did nothing, say)."""
        name = f"w{len(self._parts)}"
        renumbered, target = _renumbered(sql, len(self._args))
        self._parts.append((name, renumbered))
        if target is not None:
            self._targets.append(target)
        self._args.extend(args)
        self._counts.append(len(args))
        if then is not None:
            self._checks.append((name, then))

    def claim(self, sql: str, *args: Any) -> None:
        """The insert all the others depend on: an ``INSERT … ON CONFLICT DO NOTHING
        RETURNING``. After ``send``, ``claimed`` says whether it inserted its row
        (and so whether the others did)."""
        if self._claim is not None:
            raise ValueError("one claim per statement")
        if "ON CONFLICT" not in sql.upper() or "RETURNING" not in sql.upper():
            raise ValueError("a claim is an INSERT … ON CONFLICT DO NOTHING RETURNING")
        self._claim = f"w{len(self._parts)}"
        self.add(sql, *args, then=self._was_claimed)

    def _was_claimed(self, inserted: int) -> None:
        self.claimed = inserted > 0

    def insert(self, row: Any) -> None:
        """An ORM object's row, every column as the object holds it."""
        sql, columns = _insert_plan(type(row).__table__)
        values = []
        for column, default, as_json, sealed in columns:
            value = getattr(row, column.key)
            if value is None and default:
                raise ValueError(
                    f"{column.table.name}.{column.name} has a default the ORM would apply: "
                    "write this row through the session"
                )
            if as_json:
                value = _json(column.type, value)
            elif sealed and value is not None:
                value = self._sealed(column, value)
            values.append(value)
        self.add(sql, *values)

    def _sealed(self, column: Any, value: Any) -> str:
        if self.dialect is None:
            raise ValueError(
                f"{column.table.name}.{column.name} is encrypted by its column type: write "
                "this row through the session, or make the writes for the engine's dialect"
            )
        return column.type.process_bind_param(value, self.dialect)

    def statement(self) -> str:
        checks = tuple(name for name, _ in self._checks)
        return _statement(tuple(self._parts), self._claim, checks)

    async def send(self, driver: Any) -> None:
        """Run them all, in the transaction ``driver`` is in (or, with a claim, in
        none: the statement commits by itself); then each ``then``."""
        if not self._parts:
            return
        if len(self._args) <= MAX_PARAMETERS:
            await self._send(driver, self.statement(), self._args, self._checks)
            return
        if self._claim is not None:
            raise ValueError(f"a claim's statement takes at most {MAX_PARAMETERS} parameters")
        for parts, args in self._chunks():
            names = {name for name, _ in parts}
            checks = [(name, then) for name, then in self._checks if name in names]
            # Not cached: each chunk's text is hundreds of kilobytes and seldom repeats.
            sql = _statement.__wrapped__(parts, None, tuple(name for name, _ in checks))
            await self._send(driver, sql, args, checks)

    def _chunks(self):
        """The parts in order, as statements of at most MAX_PARAMETERS each, every
        part's parameters numbered from its own statement's first."""
        parts: list[tuple[str, str]] = []
        start = taken = 0
        for (name, sql), count in zip(self._parts, self._counts, strict=True):
            if count > MAX_PARAMETERS:
                raise ValueError(f"one insert of {count} parameters: more than a statement takes")
            if taken + count > MAX_PARAMETERS:
                yield tuple(parts), self._args[start : start + taken]
                parts, start, taken = [], start + taken, 0
            parts.append((name, _renumbered(sql, -start)[0]))
            taken += count
        yield tuple(parts), self._args[start : start + taken]

    async def _send(self, driver: Any, sql: str, args: list, checks: list) -> None:
        # The statement's span, as SQLAlchemy's instrumentation gives the ORM's
        # (only where spans are recorded: rescue_chassis.telemetry).
        span = (
            tracer.start_as_current_span(
                f"INSERT {' '.join(dict.fromkeys(self._targets))}",
                kind=SpanKind.CLIENT,
                attributes={
                    "db.system.name": "postgresql",
                    "db.operation.name": "INSERT",
                    "db.query.text": sql,
                },
            )
            if spans_recorded()
            else nullcontext()
        )
        with span:
            row = await run(sql, driver.fetchrow(sql, *args))
        for name, then in checks:
            then(row[name])


def new_row(model: type[T], **values: Any) -> T:
    """``model(**values)`` for a SQLModel table class, at a fraction of the cost: the
    values set at once, not one instrumented ``setattr`` each (about 50 µs a row).
    The row is as the constructor makes it, pending: a session inserts it from
    its values, and later assignments are tracked as usual."""
    defaults = _defaults(model)
    row = model.__new__(model)  # SQLModel's: pydantic's private attributes
    state = model._sa_class_manager._new_state_if_none(row)
    state.manager.dispatch.init(state, (), values)  # the mapper's own init event
    row.__dict__.update(
        {name: default() for name, default in defaults.items() if name not in values}
    )
    row.__dict__.update(values)
    object.__setattr__(row, "__pydantic_fields_set__", set(values))
    return row


@cache
def _defaults(model: type) -> dict[str, Callable[[], Any]]:
    """The model's fields that have a default, each as a function making it."""
    made = {}
    for name, field in model.model_fields.items():
        if not field.is_required():
            made[name] = functools.partial(field.get_default, call_default_factory=True)
    return made


# The same few shapes of statement, request after request: built once each.
@lru_cache(maxsize=512)
def _renumbered(sql: str, offset: int) -> tuple[str, str | None]:
    """``sql`` with its parameters after the ``offset`` before it, and its table."""
    renumbered = _PLACEHOLDER.sub(lambda m: f"${int(m.group(1)) + offset}", sql)
    target = _TARGET.match(sql)
    return renumbered, target.group(1) if target else None


@lru_cache(maxsize=256)
def _statement(parts: tuple[tuple[str, str], ...], claim: str | None, checks: tuple) -> str:
    # The claim first: a CTE names only those before it.
    ordered = sorted(parts, key=lambda part: part[0] != claim)
    sent = ", ".join(f"{name} AS ({_as_sent(name, sql, claim)})" for name, sql in ordered)
    counts = ", ".join(f"(SELECT count(*) FROM {name}) AS {name}" for name in checks)
    return f"WITH {sent} SELECT {counts or '1'}"


def _as_sent(name: str, sql: str, claim: str | None) -> str:
    if claim is None or name == claim:
        return sql
    # Postgres types the parameters of INSERT … SELECT by the target columns, as
    # with VALUES: no casts needed, and a value too long is refused as before.
    conditional, replaced = _VALUES.subn(f") SELECT \\1 WHERE EXISTS (SELECT FROM {claim})", sql)
    if not replaced:
        raise ValueError(f"only a one-row INSERT … VALUES can depend on a claim: {sql}")
    return conditional


@cache
def _insert_plan(table: Table) -> tuple[str, list[tuple[Any, bool, bool, bool]]]:
    """The table's INSERT and, per column, (column, has a default, is JSON, is
    encrypted): once per table, not per row (every admission passes here)."""
    columns = []
    for column in table.columns:
        sealed = isinstance(column.type, EncryptedText)
        if not sealed and not _writable_as_is(column.type):
            raise ValueError(
                f"{table.name}.{column.name} is {column.type!r}: write this row through "
                "the session, whose column types convert it"
            )
        default = column.server_default is not None or _has_default(column)
        columns.append((column, default, isinstance(column.type, types.JSON), sealed))
    names = ", ".join(column.name for column, *_ in columns)
    placeholders = ", ".join(f"${n}" for n in range(1, len(columns) + 1))
    return f"INSERT INTO {table_name(table)} ({names}) VALUES ({placeholders})", columns


def _json(type_: types.JSON, value: Any) -> str | None:
    # As SQLAlchemy writes it: None is JSON null unless the column says SQL NULL.
    return None if value is None and type_.none_as_null else jsonb(value)


def _has_default(column) -> bool:
    default = column.default
    return default is not None and getattr(default, "arg", None) is not None


# Column types asyncpg takes as Python holds them, with no bind processing of
# SQLAlchemy's (JSON is serialised here, as the driver's other statements do).
_PLAIN = (
    types.String,
    types.Integer,
    types.Boolean,
    types.DateTime,
    types.Date,
    types.Uuid,
    types.ARRAY,
    types.LargeBinary,
    types.Float,
    types.JSON,
)


def _writable_as_is(type_: types.TypeEngine) -> bool:
    if isinstance(type_, types.TypeDecorator):
        # SQLModel's AutoString: a String that converts nothing. A decorator that
        # converts (an encrypted column's) needs SQLAlchemy to write it.
        converts = type(type_).process_bind_param is not types.TypeDecorator.process_bind_param
        return not converts and _writable_as_is(type_.impl_instance)
    return isinstance(type_, _PLAIN)
