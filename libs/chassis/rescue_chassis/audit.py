"""The audit trail: who read or wrote which person data, when, from which station
and why; append-only, hash-chained, queryable by auditors, gathered by events.

Every request to a business endpoint that carries an authenticated principal is
recorded by ``AuditMiddleware`` (pure ASGI) in the service's ``audit_entries``:

- who (subject, station, roles), when, read or write, method and route template,
  which records (path parameters and ``*_id`` query parameters; for lists, the
  ids listed; for writes, the ids the answer names), which fields (names only:
  the top-level keys of the JSON response for a read, of the JSON request body
  for a write), why (the ``X-Purpose`` header, at most 200 characters), the
  status and the correlation id;
- a read is on record before its data leaves: the response is held back until
  the entry is committed, and if it cannot be, the caller gets a 503 instead of
  the data. A write is recorded once the handler has answered (status included);
- entries form one chain per service: ``position`` 1, 2, 3… without gaps and
  ``hash`` = sha256(canonical JSON of the entry, including ``prev_hash``).
  Appends are serialised by a transaction-scoped advisory lock, so concurrent
  requests cannot fork the chain; the database refuses UPDATE, DELETE and
  TRUNCATE (trigger), and ``GET /audit/verification`` finds any change made
  around it (an altered entry, a deleted one);
- each entry is staged in the same transaction as an ``audit_recorded`` event
  (key: the service's name, so one chain stays in order on one partition) for a
  central audit store; an entry and its event exist together or not at all.

Auditors (roles ``auditor``, ``admin``) query ``GET /audit/entries`` and
``GET /audit/verification``; their reading is itself audited.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Annotated, Any
from urllib.parse import parse_qsl

from fastapi import APIRouter, FastAPI, Query, Request
from opentelemetry import propagate
from pydantic import BaseModel, Field
from sqlalchemy import (
    BigInteger,
    Column,
    Computed,
    DateTime,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    select,
)
from sqlalchemy.dialects.postgresql import ARRAY, JSONB

from rescue_chassis.auth import Principal, Role, require_roles
from rescue_chassis.moments import PeriodInstant, ensure_period
from rescue_chassis.problems import PROBLEM_JSON, TYPE_BASE
from rescue_events.contracts.audit import AuditAction, AuditRecordedV1
from rescue_events.contracts.topics import AUDIT_EVENTS
from rescue_events.driver import jsonb, own_transaction, run
from rescue_events.envelope import Envelope
from rescue_events.registry import registry

if TYPE_CHECKING:
    from rescue_chassis.runtime import Runtime

log = logging.getLogger(__name__)

TABLE = "audit_entries"
# The columns an append writes (record_values is computed by the database), in the
# order of _INSERT_ENTRY's parameters.
_ENTRY_COLUMNS = (
    "id", "at", "subject", "station_id", "roles", "action", "method", "route",
    "record_ids", "fields", "purpose", "status_code", "correlation_id", "prev_hash", "hash",
)  # fmt: skip
_INSERT_ENTRY = (
    f"INSERT INTO {TABLE} ({', '.join(_ENTRY_COLUMNS)}) "
    f"VALUES ({', '.join(f'${i}' for i in range(1, len(_ENTRY_COLUMNS) + 1))})"
)
GENESIS = "0" * 64  # the prev_hash of position 1
PURPOSE_HEADER = "X-Purpose"
PURPOSE_MAX = 200
# One chain per service database: appends take this transaction-scoped lock
# (advisory locks are per database). Arbitrary but fixed, and not the relay's.
_CHAIN_LOCK_KEY = 0xA0D17C4A1
# The record ids a column may hold: JSON values of every key, flattened.
_RECORD_VALUES = "jsonb_path_query_array(record_ids, 'lax $.*[*]')"

_READS = frozenset({"GET", "HEAD"})
_WRITES = frozenset({"POST", "PUT", "PATCH", "DELETE"})
# Not business endpoints: probes, scrapes, docs, the on-call engineer's tools …
_UNAUDITED = ("/health", "/metrics", "/docs", "/redoc", "/openapi.json", "/ops")
# … but for one dead letter: its record (the payload is person data) and what
# on-call does with it (replay, discard) are on record like any business call.
_AUDITED_OPS = ("/ops/dead-letters/",)
_MAX_CAPTURED_BODY = 1 << 20  # a write body larger than this is recorded without field names
_MAX_NAMES = 200  # field names, record ids listed
_MAX_ID = 200  # characters of one record id


# -- the table -----------------------------------------------------------------


def define_audit_table(metadata: MetaData) -> Table:
    return Table(
        TABLE,
        metadata,
        # The chain position, assigned under the chain lock: 1, 2, 3… without gaps.
        Column("id", BigInteger, primary_key=True, autoincrement=False),
        Column("at", DateTime(timezone=True), nullable=False),
        Column("subject", String(200), nullable=False),
        Column("station_id", String(64), nullable=False),
        Column("roles", ARRAY(String(64)), nullable=False),
        Column("action", String(5), nullable=False),
        Column("method", String(10), nullable=False),
        Column("route", String(300), nullable=False),
        Column("record_ids", JSONB, nullable=False),
        # Derived by the database, for GIN lookups by any record id; not hashed.
        Column("record_values", JSONB, Computed(_RECORD_VALUES, persisted=True)),
        Column("fields", ARRAY(String(200)), nullable=True),
        Column("purpose", String(PURPOSE_MAX), nullable=True),
        Column("status_code", Integer, nullable=False),
        Column("correlation_id", String(100), nullable=True),
        Column("prev_hash", String(64), nullable=False),
        Column("hash", String(64), nullable=False),
        Index("ix_audit_entries_at", "at"),
        Index("ix_audit_entries_subject", "subject", "id"),
        Index("ix_audit_entries_station_id", "station_id", "id"),
        Index(
            "ix_audit_entries_record_values",
            "record_values",
            postgresql_using="gin",
            postgresql_ops={"record_values": "jsonb_path_ops"},
        ),
    )


# Frozen DDL for the services' migrations (see rescue_chassis.migrations): a
# migration must mean the same thing forever; a change is create_audit_v2().

_APPEND_ONLY_DDL = [
    """
    CREATE OR REPLACE FUNCTION rescue_audit_append_only() RETURNS trigger
    LANGUAGE plpgsql AS $$
    BEGIN
        RAISE EXCEPTION 'audit_entries is append-only: % refused', TG_OP
            USING ERRCODE = 'insufficient_privilege',
                  HINT = 'The audit trail is never changed; record a new entry instead.';
    END $$
    """,
    """
    CREATE TRIGGER audit_entries_append_only
    BEFORE UPDATE OR DELETE OR TRUNCATE ON audit_entries
    FOR EACH STATEMENT EXECUTE FUNCTION rescue_audit_append_only()
    """,
]


def create_audit_v1() -> None:
    """The audit_entries table, its indexes and the append-only trigger."""
    import sqlalchemy as sa
    from alembic import op

    op.create_table(
        TABLE,
        sa.Column("id", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("subject", sa.String(length=200), nullable=False),
        sa.Column("station_id", sa.String(length=64), nullable=False),
        sa.Column("roles", ARRAY(sa.String(length=64)), nullable=False),
        sa.Column("action", sa.String(length=5), nullable=False),
        sa.Column("method", sa.String(length=10), nullable=False),
        sa.Column("route", sa.String(length=300), nullable=False),
        sa.Column("record_ids", JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column(
            "record_values",
            JSONB(astext_type=sa.Text()),
            sa.Computed("jsonb_path_query_array(record_ids, 'lax $.*[*]')", persisted=True),
            nullable=True,
        ),
        sa.Column("fields", ARRAY(sa.String(length=200)), nullable=True),
        sa.Column("purpose", sa.String(length=200), nullable=True),
        sa.Column("status_code", sa.Integer(), nullable=False),
        sa.Column("correlation_id", sa.String(length=100), nullable=True),
        sa.Column("prev_hash", sa.String(length=64), nullable=False),
        sa.Column("hash", sa.String(length=64), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_audit_entries_at", TABLE, ["at"])
    op.create_index("ix_audit_entries_subject", TABLE, ["subject", "id"])
    op.create_index("ix_audit_entries_station_id", TABLE, ["station_id", "id"])
    op.create_index(
        "ix_audit_entries_record_values",
        TABLE,
        ["record_values"],
        postgresql_using="gin",
        postgresql_ops={"record_values": "jsonb_path_ops"},
    )
    for statement in _APPEND_ONLY_DDL:
        op.execute(statement)


def drop_audit_v1() -> None:
    from alembic import op

    op.execute(f"DROP TRIGGER IF EXISTS audit_entries_append_only ON {TABLE}")
    op.execute("DROP FUNCTION IF EXISTS rescue_audit_append_only()")
    op.drop_index("ix_audit_entries_record_values", table_name=TABLE)
    op.drop_index("ix_audit_entries_station_id", table_name=TABLE)
    op.drop_index("ix_audit_entries_subject", table_name=TABLE)
    op.drop_index("ix_audit_entries_at", table_name=TABLE)
    op.drop_table(TABLE)


# -- entries and the chain -----------------------------------------------------


@dataclass(frozen=True)
class Access:
    """One access to record, before it has a place in the chain."""

    subject: str
    station_id: str
    roles: tuple[str, ...]
    action: str
    method: str
    route: str
    record_ids: dict[str, Any]
    fields: list[str] | None
    purpose: str | None
    status_code: int
    correlation_id: str | None

    @classmethod
    def of(cls, principal: Principal, **rest: Any) -> Access:
        return cls(
            subject=principal.subject[:200],
            station_id=principal.station_id[:64],
            roles=tuple(sorted(r[:64] for r in principal.roles))[:20],
            **rest,
        )


def canonical(entry: dict[str, Any]) -> bytes:
    """The bytes an entry's hash is taken over: sorted keys, no whitespace, UTF-8."""
    return json.dumps(entry, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def entry_hash(
    *,
    position: int,
    at: datetime,
    subject: str,
    station_id: str,
    roles: Iterable[str],
    action: str,
    method: str,
    route: str,
    record_ids: dict[str, Any],
    fields: list[str] | None,
    purpose: str | None,
    status_code: int,
    correlation_id: str | None,
    prev_hash: str,
) -> str:
    document = {
        "position": position,
        "at": at.astimezone(UTC).isoformat(timespec="microseconds"),
        "subject": subject,
        "station_id": station_id,
        "roles": sorted(roles),
        "action": action,
        "method": method,
        "route": route,
        "record_ids": record_ids,
        "fields": fields,
        "purpose": purpose,
        "status_code": status_code,
        "correlation_id": correlation_id,
        "prev_hash": prev_hash,
    }
    return hashlib.sha256(canonical(document)).hexdigest()


def _entry_row(entry: dict[str, Any]) -> list:
    """An entry as _INSERT_ENTRY's parameters (JSONB as text, for the driver)."""
    return [jsonb(entry[c]) if c == "record_ids" else entry[c] for c in _ENTRY_COLUMNS]


def row_hash(row: Any) -> str:
    """The hash an entry read back from the table should have."""
    return entry_hash(
        position=row.id,
        at=row.at,
        subject=row.subject,
        station_id=row.station_id,
        roles=row.roles,
        action=row.action,
        method=row.method,
        route=row.route,
        record_ids=row.record_ids,
        fields=row.fields,
        purpose=row.purpose,
        status_code=row.status_code,
        correlation_id=row.correlation_id,
        prev_hash=row.prev_hash,
    )


@dataclass(frozen=True)
class Verification:
    ok: bool
    entries: int  # checked, in chain order, up to the first break
    last_position: int | None
    last_hash: str | None  # keep it: a later walk that does not reach it lost its tail
    broken_at: int | None = None
    reason: str | None = None


class AuditTrail:
    """A service's audit chain in its own database.

    Appends are grouped: while one transaction holds the chain, the entries that
    arrive meanwhile wait and go together in the next one (one lock, one read of
    the chain's end, one multi-row insert of entries and one of their events, one
    commit), so the serialised chain does not cap a busy service at one commit
    per request.
    """

    MAX_GROUP = 200

    def __init__(self, runtime: Runtime) -> None:
        self.runtime = runtime
        self.service = runtime.name
        self.table: Table = runtime.tables.audit
        self._event = registry.for_model(AuditRecordedV1)
        self._waiting: list[tuple[Access, dict[str, str], asyncio.Future]] = []
        self._writer: asyncio.Task | None = None

    async def append(self, access: Access) -> AuditRecordedV1:
        """Record ``access`` at the end of the chain, with its event, in one short
        transaction; returns the event (the entry with its position and hash)."""
        carrier: dict[str, str] = {}
        propagate.inject(carrier)  # the request's trace, for the relay's publish span
        done = asyncio.get_running_loop().create_future()
        self._waiting.append((access, carrier, done))
        if self._writer is None or self._writer.done():
            self._writer = asyncio.create_task(self._write_waiting(), name="audit-append")
        return await done

    async def _write_waiting(self) -> None:
        # Let the requests of this moment join the group: one transaction for many
        # entries instead of one each (2 ms more for a read; writes do not wait).
        await asyncio.sleep(0.002)
        while self._waiting:
            group = self._waiting[: self.MAX_GROUP]
            del self._waiting[: self.MAX_GROUP]
            try:
                events = await self._write([(a, c) for a, c, _ in group])
            except Exception as exc:  # every waiting request learns it is not on record
                for _, _, done in group:
                    if not done.done():
                        done.set_exception(exc)
                continue
            for (_, _, done), event in zip(group, events, strict=True):
                if not done.done():
                    done.set_result(event)

    async def _write(self, group: list[tuple[Access, dict[str, str]]]) -> list[AuditRecordedV1]:
        # On the driver (rescue_events.driver): a group follows nearly every request,
        # and SQLAlchemy's execution layer cost several times its four statements.
        async with own_transaction(self.runtime.engine) as driver:
            return await self._append(driver, group)

    async def _append(self, driver, group) -> list[AuditRecordedV1]:
        # Serialise appends across processes; READ COMMITTED: the next statement
        # sees the last entry committed by whoever held the lock before.
        lock = "SELECT pg_advisory_xact_lock($1)"
        await run(lock, driver.execute(lock, _CHAIN_LOCK_KEY))
        end = f"SELECT id, hash FROM {TABLE} ORDER BY id DESC LIMIT 1"
        last = await run(end, driver.fetchrow(end))
        position, prev_hash = (last["id"], last["hash"]) if last else (0, GENESIS)
        entries, events, staged = [], [], []
        for access, carrier in group:
            position += 1
            values = dict(
                at=datetime.now(UTC),
                subject=access.subject,
                station_id=access.station_id,
                roles=list(access.roles),
                action=access.action,
                method=access.method,
                route=access.route,
                record_ids=access.record_ids,
                fields=access.fields,
                purpose=access.purpose,
                status_code=access.status_code,
                correlation_id=access.correlation_id,
                prev_hash=prev_hash,
            )
            prev_hash = entry_hash(position=position, **values)
            entries.append({"id": position, "hash": prev_hash, **values})
            event = AuditRecordedV1(
                person_id=_uuid_or_none(access.record_ids.get("person_id")),
                service=self.service,
                position=position,
                hash=prev_hash,
                **values,
            )
            events.append(event)
            staged.append(self._outbox_row(event, carrier))
        rows = [_entry_row(e) for e in entries]
        await run(_INSERT_ENTRY, driver.executemany(_INSERT_ENTRY, rows))
        # The rows Outbox.stage_raw writes, the whole group at once.
        stage = self.runtime.outbox.insert_sql
        await run(stage, driver.executemany(stage, staged))
        return events

    def _outbox_row(self, event: AuditRecordedV1, carrier: dict[str, str]) -> tuple:
        envelope = Envelope(
            type=self._event.name,
            source=self.runtime.outbox.source,
            subject=str(event.person_id) if event.person_id else "",
            dataschema=self._event.dataschema,
            correlation_id=event.correlation_id,
            station_id=event.station_id,
        )
        # CloudEvents: a subject, when present, is never empty.
        headers = [[k, v] for k, v in envelope.to_headers() if k != "ce_subject" or v]
        return (  # as Outbox.insert_sql takes them
            envelope.id,
            AUDIT_EVENTS.name,
            self.service,  # the key: one chain, one partition, in order
            jsonb(headers),
            event.model_dump_json().encode(),
            jsonb(carrier),
        )

    async def verify(self, batch: int = 2000) -> Verification:
        """Walk the chain from position 1: each entry must follow the one before
        (position + 1, prev_hash = its hash) and hash to what it says."""
        t = self.table
        expected_position, expected_prev, count = 1, GENESIS, 0
        last_hash: str | None = None
        async with self.runtime.engine.connect() as conn:
            conn = await conn.execution_options(isolation_level="REPEATABLE READ")
            async with conn.begin():
                while True:
                    rows = (
                        await conn.execute(
                            select(t)
                            .where(t.c.id >= expected_position)
                            .order_by(t.c.id)
                            .limit(batch)
                        )
                    ).all()
                    for row in rows:
                        problem = None
                        if row.id != expected_position:
                            broken, problem = (
                                expected_position,
                                f"entries {expected_position}..{row.id - 1} are missing "
                                "(deleted from the chain)",
                            )
                        elif row.prev_hash != expected_prev:
                            broken, problem = (
                                row.id,
                                f"prev_hash does not match the hash of entry {row.id - 1} "
                                "(that entry or this link was altered)",
                            )
                        elif row_hash(row) != row.hash:
                            broken, problem = (
                                row.id,
                                "the entry does not hash to its recorded hash (it was altered)",
                            )
                        if problem is not None:
                            return Verification(
                                ok=False,
                                entries=count,
                                last_position=expected_position - 1 or None,
                                last_hash=last_hash,
                                broken_at=broken,
                                reason=problem,
                            )
                        count += 1
                        expected_position += 1
                        expected_prev = last_hash = row.hash
                    if len(rows) < batch:
                        break
        return Verification(
            ok=True,
            entries=count,
            last_position=count or None,
            last_hash=last_hash,
        )


def _uuid_or_none(value: Any) -> uuid.UUID | None:
    try:
        return uuid.UUID(value) if isinstance(value, str) else None
    except ValueError:
        return None


# -- the middleware ------------------------------------------------------------


def _header(scope_or_message, name: bytes) -> bytes | None:
    return next((v for k, v in scope_or_message.get("headers", ()) if k == name), None)


def _purpose(raw: bytes | None) -> str | None:
    """The caller's stated reason: UTF-8 (or Latin-1) text, control characters
    removed, at most 200 characters; absent or blank → None."""
    if not raw:
        return None
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        text = raw.decode("latin-1")
    text = "".join(c for c in text if c.isprintable()).strip()
    return text[:PURPOSE_MAX] or None


def _is_json(content_type: bytes | None) -> bool:
    if not content_type:
        return False
    media = content_type.split(b";", 1)[0].strip().lower()
    return media == b"application/json" or media.endswith(b"+json")


def _names(document: Any) -> list[str] | None:
    """Top-level keys of a JSON object, or of the objects of a JSON list."""
    if isinstance(document, dict):
        keys: Iterable[str] = document.keys()
    elif isinstance(document, list):
        keys = {k for item in document if isinstance(item, dict) for k in item}
    else:
        return None
    return sorted(k[:200] for k in keys)[:_MAX_NAMES]


def _listed(document: Any) -> dict[str, list[str]]:
    """Ids of the records a list answer shows, so "who saw person X" finds lists too."""
    if not isinstance(document, list):
        return {}
    found: dict[str, list[str]] = {}
    for key, name in (("id", "listed_ids"), ("person_id", "listed_person_ids")):
        values = [
            str(item[key])[:_MAX_ID]
            for item in document
            if isinstance(item, dict) and isinstance(item.get(key), str | int)
        ]
        if values:
            found[name] = list(dict.fromkeys(values))[:_MAX_NAMES]
    return found


def _written(document: Any) -> dict[str, str]:
    """The record a write created or changed, as its answer names it (``POST
    /persons`` mints the id the path could not name)."""
    if not isinstance(document, dict):
        return {}
    return {
        name: str(document[key])[:_MAX_ID]
        for key, name in (("id", "response_id"), ("person_id", "response_person_id"))
        if isinstance(document.get(key), str | int)
    }


def _record_ids(scope) -> dict[str, Any]:
    ids: dict[str, Any] = {
        str(k): str(v)[:_MAX_ID] for k, v in (scope.get("path_params") or {}).items()
    }
    query = scope.get("query_string") or b""
    if query:
        for key, value in parse_qsl(query.decode("latin-1")):
            if key.endswith("_id") and key not in ids and len(ids) < _MAX_NAMES:
                ids[key[:100]] = value[:_MAX_ID]
    return ids


def _json(body: bytes) -> Any:
    try:
        return json.loads(body) if body else None
    except ValueError:
        return None


_CORRELATION = b"x-correlation-id"
_PURPOSE = PURPOSE_HEADER.lower().encode()


# Entries of answered writes still being appended (see AuditMiddleware).
_PENDING: set[asyncio.Task] = set()


async def drain() -> None:
    """Wait for the entries of answered writes: the app's shutdown calls this before
    the database goes, so a graceful stop loses none."""
    while _PENDING:
        await asyncio.gather(*list(_PENDING), return_exceptions=True)


class AuditMiddleware:
    """Records each access with a principal (see the module's docstring). Pure
    ASGI, like rescue_chassis.metrics; an unaudited request passes straight through."""

    def __init__(self, app, *, trail: AuditTrail) -> None:
        self.app = app
        self.trail = trail

    async def __call__(self, scope, receive, send) -> None:
        method = scope.get("method")
        if (
            scope["type"] != "http"
            or (method not in _READS and method not in _WRITES)
            or (
                any(scope["path"] == p or scope["path"].startswith(p + "/") for p in _UNAUDITED)
                and not scope["path"].startswith(_AUDITED_OPS)
            )
        ):
            await self.app(scope, receive, send)
            return

        reading = method in _READS
        body: list[bytes] = []
        capture = not reading and _is_json(_header(scope, b"content-type"))

        async def receive_and_keep():
            nonlocal capture
            message = await receive()
            if capture and message["type"] == "http.request":
                chunk = message.get("body", b"")
                if sum(map(len, body)) + len(chunk) > _MAX_CAPTURED_BODY:
                    capture = False
                    body.clear()
                else:
                    body.append(chunk)
            return message

        principal: Principal | None = None
        start: dict | None = None
        held: list[bytes] = []

        async def hold(message) -> None:
            # The principal is known once the handler answers: hold the answer of
            # an audited request, pass any other straight through.
            nonlocal principal, start
            if message["type"] == "http.response.start":
                principal = _principal(scope)
                if principal is None:
                    await send(message)
                else:
                    start = message
            elif principal is not None and message["type"] == "http.response.body":
                held.append(message.get("body", b""))
            else:
                await send(message)

        try:
            await self.app(scope, receive_and_keep if capture else receive, hold)
        except Exception:
            principal = principal or _principal(scope)
            if principal is not None:
                await self._record_failure(scope, principal, reading)
            raise
        if principal is None or start is None:
            return

        content = b"".join(held)
        status = start["status"]
        if reading:
            document = (
                _json(content)
                if status < 400 and _is_json(_header(start, b"content-type"))
                else None
            )
            fields, listed = _names(document), _listed(document)
        else:
            fields = _names(_json(b"".join(body))) if capture else None
            answer = (
                _json(content)
                if status < 300 and _is_json(_header(start, b"content-type"))
                else None
            )
            listed = _written(answer)
        access = Access.of(
            principal,
            action=AuditAction.READ.value if reading else AuditAction.WRITE.value,
            method=method,
            route=_route(scope),
            record_ids=_record_ids(scope) | listed,
            fields=fields,
            purpose=_purpose(_header(scope, _PURPOSE)),
            status_code=status,
            correlation_id=_correlation(start, scope),
        )
        if not reading:
            # A write is committed before its answer exists: holding the answer back
            # until the entry is committed guarantees nothing more (a failed append
            # cannot undo the write) and costs every write a second commit's wait
            # (a third of intake's throughput, bench/intake_throughput.py). The answer
            # goes out; the entry follows, grouped with others, and is drained at
            # shutdown. Positions order entries as appended, not as answered.
            await send(start)
            await send({"type": "http.response.body", "body": content})
            self._record_later(access)
            return
        try:
            await self.trail.append(access)
        except Exception:
            log.exception(
                "audit: could not record %s %s by %s",
                method,
                access.route,
                access.subject,
                extra={"audit_entry": {**vars(access), "roles": list(access.roles)}},
            )
            if reading:  # never let data leave unrecorded
                await _unavailable(scope, start, send)
                return
            # A write is done and committed; its answer goes out, the log keeps the entry.
        await send(start)  # its headers stand: the body is the one the handler sent
        await send({"type": "http.response.body", "body": content})

    def _record_later(self, access: Access) -> None:
        async def record() -> None:
            try:
                await self.trail.append(access)
            except Exception:
                log.exception(
                    "audit: could not record %s %s by %s",
                    access.method,
                    access.route,
                    access.subject,
                    extra={"audit_entry": {**vars(access), "roles": list(access.roles)}},
                )

        task = asyncio.create_task(record(), name="audit-write-entry")
        _PENDING.add(task)  # held until done, and awaited at shutdown (drain)
        task.add_done_callback(_PENDING.discard)

    async def _record_failure(self, scope, principal: Principal, reading: bool) -> None:
        """The handler raised (the caller gets a 500): the attempt is still on record."""
        try:
            await self.trail.append(
                Access.of(
                    principal,
                    action=AuditAction.READ.value if reading else AuditAction.WRITE.value,
                    method=scope["method"],
                    route=_route(scope),
                    record_ids=_record_ids(scope),
                    fields=None,
                    purpose=_purpose(_header(scope, _PURPOSE)),
                    status_code=500,
                    correlation_id=_correlation(None, scope),
                )
            )
        except Exception:
            log.exception("audit: could not record a failed %s %s", scope["method"], scope["path"])


def _principal(scope) -> Principal | None:
    principal = (scope.get("state") or {}).get("principal")
    return principal if isinstance(principal, Principal) else None


def _route(scope) -> str:
    return str(getattr(scope.get("route"), "path", None) or scope["path"])[:300]


def _correlation(start: dict | None, scope) -> str | None:
    raw = (_header(start, _CORRELATION) if start else None) or _header(scope, _CORRELATION)
    return raw.decode("latin-1")[:100] if raw else None


async def _unavailable(scope, start: dict, send) -> None:
    body = json.dumps(
        {
            "type": TYPE_BASE + "audit-unavailable",
            "title": "Audit trail unavailable",
            "status": 503,
            "detail": "The access could not be recorded in the audit trail, so the data is "
            "withheld. Try again shortly.",
            "instance": scope["path"],
        }
    ).encode()
    correlation = _header(start, _CORRELATION)
    headers = [
        (b"content-type", PROBLEM_JSON.encode()),
        (b"content-length", str(len(body)).encode()),
        (b"retry-after", b"1"),
        *([(_CORRELATION, correlation)] if correlation else []),
    ]
    await send({"type": "http.response.start", "status": 503, "headers": headers})
    await send({"type": "http.response.body", "body": body})


# -- the auditors' routes ------------------------------------------------------

router = APIRouter(
    prefix="/audit", tags=["audit"], dependencies=[require_roles(Role.AUDITOR, Role.ADMIN)]
)


class AuditEntryView(BaseModel):
    position: int
    at: datetime
    subject: str
    station_id: str
    roles: list[str]
    action: str
    method: str
    route: str
    record_ids: dict[str, Any]
    fields: list[str] | None
    purpose: str | None
    status_code: int
    correlation_id: str | None
    prev_hash: str
    hash: str


class VerificationView(BaseModel):
    ok: bool
    service: str
    entries: int = Field(description="Entries checked in chain order, up to the first break.")
    last_position: int | None
    last_hash: str | None = Field(
        description="Keep it: a later verification that does not reach it means lost entries."
    )
    broken_at: int | None = Field(description="The first position that does not verify.")
    reason: str | None


def _trail(request: Request) -> AuditTrail:
    return request.app.state.audit


@router.get("/entries", response_model=list[AuditEntryView])
async def audit_entries(
    request: Request,
    subject: str | None = None,
    record_id: Annotated[
        str | None, Query(description="Any record id: a person, case, report…")
    ] = None,
    station_id: str | None = None,
    action: AuditAction | None = None,
    since: PeriodInstant | None = None,
    until: PeriodInstant | None = None,
    after: Annotated[
        int | None, Query(ge=0, le=2**63 - 1, description="Only positions after this one.")
    ] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> list[AuditEntryView]:
    """Entries in chain order; page on with ``after`` = the last position seen."""
    if since is not None and until is not None:
        ensure_period(since, until, start_name="since", end_name="until", end_inclusive=False)
    trail = _trail(request)
    t = trail.table
    query = select(t).order_by(t.c.id).limit(limit)
    if subject is not None:
        query = query.where(t.c.subject == subject)
    if record_id is not None:
        query = query.where(t.c.record_values.contains([record_id]))
    if station_id is not None:
        query = query.where(t.c.station_id == station_id)
    if action is not None:
        query = query.where(t.c.action == action.value)
    if since is not None:
        query = query.where(t.c.at >= since)
    if until is not None:
        query = query.where(t.c.at < until)
    if after is not None:
        query = query.where(t.c.id > after)
    async with trail.runtime.engine.connect() as conn:
        rows = (await conn.execute(query)).mappings().all()
    return [AuditEntryView(position=r["id"], **r) for r in rows]


@router.get("/verification", response_model=VerificationView)
async def audit_verification(request: Request) -> VerificationView:
    """Walks this service's chain and recomputes every hash: ``ok``, or the first
    position that does not verify and why."""
    trail = _trail(request)
    result = await trail.verify()
    return VerificationView(service=trail.service, **vars(result))


def install(app: FastAPI) -> None:
    """Audit every business request of ``app`` and serve the auditors' routes."""
    runtime: Runtime = app.state.runtime
    trail = AuditTrail(runtime)
    app.state.audit = trail
    if AUDIT_EVENTS not in runtime.relay.topics:  # created at start-up with the others
        runtime.relay.topics.append(AUDIT_EVENTS)
    app.add_middleware(AuditMiddleware, trail=trail)
    app.include_router(router)
