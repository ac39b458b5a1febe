"""``AuditTrail``: appends entries to a service's chain, anchors its head outside
the database (``audit_chain_anchored``, rescue_chassis.audit.anchors), and walks
the chain to verify it.

A write's entry is staged in the write's own transaction (``audit_pending``, by
the command runner): it commits with the write or not at all. Staged entries take
their place in the chain right after the commit, grouped with other appends; the
periodic job ``audit_staged_entries`` chains what a process killed in between
left behind (at start, then at each sweep, in whichever replica runs first).

The service's role cannot delete staged entries: only the owner's function
``rescue_audit_chain_staged`` (table.create_audit_chaining_v1) moves them, with
their own content, into the chain; the role passes the hashes it computed."""

from __future__ import annotations

import asyncio
import logging
import uuid
import weakref
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from opentelemetry import propagate
from sqlalchemy import Table, select
from sqlalchemy.ext.asyncio import AsyncSession

from rescue_chassis.audit.chain import GENESIS, Access, Verification, broken_link, entry_hash
from rescue_chassis.periodic import PeriodicJob
from rescue_chassis.runtime import Runtime
from rescue_chassis.tables import AUDIT_PENDING_TABLE, AUDIT_TABLE
from rescue_chassis.writes import Writes
from rescue_events.contracts.audit import AuditChainAnchoredV1
from rescue_events.contracts.topics import AUDIT_EVENTS
from rescue_events.driver import begun, from_jsonb, jsonb, own_transaction, run
from rescue_events.envelope import Envelope
from rescue_events.registry import registry

# The columns an append writes (record_values is computed by the database), in the
# order of _INSERT_ENTRY's parameters.
_ENTRY_COLUMNS = (
    "id", "at", "subject", "station_id", "roles", "action", "method", "route",
    "record_ids", "fields", "purpose", "status_code", "correlation_id", "prev_hash", "hash",
)  # fmt: skip
_INSERT_ENTRY = (
    f"INSERT INTO {AUDIT_TABLE} ({', '.join(_ENTRY_COLUMNS)}) "
    f"VALUES ({', '.join(f'${i}' for i in range(1, len(_ENTRY_COLUMNS) + 1))})"
)
# One chain per service database: appends take this transaction-scoped lock
# (advisory locks are per database). Arbitrary but fixed, and not the relay's.
_CHAIN_LOCK_KEY = 0xA0D17C4A1
_GROUP_WAIT = 0.002  # seconds an append waits for others to share its transaction
# A write's entry, in the write's transaction (a plain one-row INSERT … VALUES, so the
# fast lane's statement can carry it: rescue_chassis.writes).
STAGE_SQL = f"INSERT INTO {AUDIT_PENDING_TABLE} (at, entry, trace_context) VALUES ($1, $2, $3)"
# The oldest staged entries, read under the chain lock, then moved into the chain by
# the owner's function (the service's role may not delete them): gone only if it commits.
_READ_STAGED = f"SELECT id, at, entry FROM {AUDIT_PENDING_TABLE} ORDER BY id LIMIT $1"
_CHAIN_STAGED = "SELECT rescue_audit_chain_staged($1::bigint[], $2::text[])"
_HEAD = f"SELECT id, hash, at FROM {AUDIT_TABLE} ORDER BY id DESC LIMIT 1"
_TRAILS: weakref.WeakSet[AuditTrail] = weakref.WeakSet()  # for drain() at shutdown
log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ChainedEntry:
    """An entry's place in the chain."""

    position: int
    prev_hash: str
    hash: str
    at: datetime


class AuditTrail:
    """A service's audit chain in its own database.

    Appends are grouped: the entries that arrive while one transaction holds the
    chain go together in the next one, so the serialised chain does not cap a
    busy service at one commit per request. A group that takes the chain past a
    multiple of ``anchor_every_entries`` anchors its last entry in its transaction.
    """

    MAX_GROUP = 200

    def __init__(self, runtime: Runtime, *, anchor_every_entries: int = 0) -> None:
        self.runtime = runtime
        self.service = runtime.name
        self.table: Table = runtime.tables.audit
        self.anchor_every_entries = anchor_every_entries  # 0: only the job and the route
        self._anchor_event = registry.for_model(AuditChainAnchoredV1)
        self._waiting: list[tuple[Access, dict[str, str], asyncio.Future]] = []
        self._writer: asyncio.Task | None = None
        self._staged = False  # writes committed entries to chain
        self.last_anchor: AuditChainAnchoredV1 | None = None  # by this process
        _TRAILS.add(self)

    async def append(self, access: Access) -> ChainedEntry:
        """Record ``access`` at the end of the chain in one short transaction
        (grouped with others); returns its place in the chain."""
        done = asyncio.get_running_loop().create_future()
        self._waiting.append((access, {}, done))
        self._wake()
        return await done

    # -- a write's entry: staged in the write's transaction, chained after its commit

    def staged_row(self, access: Access) -> tuple:
        """``access`` as STAGE_SQL's parameters (with the request's trace)."""
        carrier: dict[str, str] = {}
        propagate.inject(carrier)
        entry = {**vars(access), "roles": list(access.roles)}
        return (datetime.now(UTC), jsonb(entry), jsonb(carrier))

    async def stage(self, session: AsyncSession, access: Access) -> None:
        """Stage a write's entry in ``session``'s transaction: it commits with the
        write; ``chain_staged`` after the commit."""
        driver = await begun(session)
        await run(STAGE_SQL, driver.execute(STAGE_SQL, *self.staged_row(access)))

    def stage_in(self, writes: Writes, access: Access) -> None:
        """Stage a write's entry in a single statement's ``writes`` (the fast lane):
        inserted only if the statement's claim is."""
        writes.add(STAGE_SQL, *self.staged_row(access))

    def chain_staged(self) -> None:
        """Move the committed staged entries into the chain, grouped with the next
        appends (the answer does not wait for it)."""
        self._staged = True
        self._wake()

    async def settle(self) -> None:
        """Chain what is staged and appended so far (at shutdown)."""
        self._staged = True
        self._wake()
        while self._writer is not None and not self._writer.done():
            await asyncio.gather(self._writer, return_exceptions=True)

    def periodic_job(self) -> PeriodicJob:
        """What a killed process staged and never chained, chained by the next sweep
        (the first runs at start) of any replica."""

        async def chain(session: AsyncSession, now: datetime) -> int:
            driver = await begun(session)
            total = 0
            while True:
                chained, _ = await self._append(driver, [], take_staged=True)
                total += chained
                if chained < self.MAX_GROUP:
                    return total

        return PeriodicJob("audit_staged_entries", chain)

    def _wake(self) -> None:
        if self._writer is None or self._writer.done():
            self._writer = asyncio.create_task(self._write_waiting(), name="audit-append")

    async def _write_waiting(self) -> None:
        await asyncio.sleep(_GROUP_WAIT)
        while self._waiting or self._staged:
            take_staged, self._staged = self._staged, False
            group = self._waiting[: self.MAX_GROUP]
            del self._waiting[: self.MAX_GROUP]
            try:
                events, more = await self._write([(a, c) for a, c, _ in group], take_staged)
            except Exception as exc:  # every waiting request learns it is not on record
                if take_staged:  # they stay staged, committed: the periodic job retries
                    log.warning("audit: staged entries not chained yet (%s)", exc)
                for _, _, done in group:
                    if not done.done():
                        done.set_exception(exc)
                continue
            self._staged = self._staged or more
            for (_, _, done), event in zip(group, events, strict=True):
                if not done.done():
                    done.set_result(event)

    async def _write(
        self, group: list[tuple[Access, dict[str, str]]], take_staged: bool = False
    ) -> tuple[list[ChainedEntry], bool]:
        # On the driver, not SQLAlchemy: a group follows nearly every request (bench/README.md).
        async with own_transaction(self.runtime.engine) as driver:
            chained, events = await self._append(driver, group, take_staged=take_staged)
        return events, chained == self.MAX_GROUP

    async def _append(
        self, driver, group, *, take_staged: bool = False
    ) -> tuple[int, list[ChainedEntry]]:
        """Chain the oldest staged entries (``take_staged``), then ``group``; returns
        how many staged entries were chained, and the group's places in the chain."""
        # Serialise appends across processes; READ COMMITTED: the next statement
        # sees the last entry committed by whoever held the lock before.
        lock = "SELECT pg_advisory_xact_lock($1)"
        await run(lock, driver.execute(lock, _CHAIN_LOCK_KEY))
        staged, staged_ids = [], []
        if take_staged:
            taken = await run(_READ_STAGED, driver.fetch(_READ_STAGED, self.MAX_GROUP))
            staged = [(_access_of(from_jsonb(row["entry"])), row["at"]) for row in taken]
            staged_ids = [row["id"] for row in taken]
        appended = [(access, datetime.now(UTC)) for access, _ in group]
        if not staged and not appended:
            return 0, []
        last = await run(_HEAD, driver.fetchrow(_HEAD))
        start, prev_hash = (last["id"], last["hash"]) if last else (0, GENESIS)
        position = start
        entries, chained = [], []
        for access, at in staged + appended:
            position += 1
            values = dict(
                at=at,
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
            entry = ChainedEntry(position, prev_hash, entry_hash(position=position, **values), at)
            prev_hash = entry.hash
            entries.append({"id": position, "hash": entry.hash, **values})
            chained.append(entry)
        if staged_ids:  # the owner's function takes their content from audit_pending
            hashes = [e.hash for e in chained[: len(staged_ids)]]
            await run(_CHAIN_STAGED, driver.execute(_CHAIN_STAGED, staged_ids, hashes))
        if appended:
            rows = [_entry_row(e) for e in entries[len(staged_ids) :]]
            await run(_INSERT_ENTRY, driver.executemany(_INSERT_ENTRY, rows))
        every = self.anchor_every_entries
        if every > 0 and position // every > start // every:
            await self.stage_anchor(driver, chained[-1])
        return len(staged), chained[len(staged) :]

    # -- anchors: the chain's head, outside the database ------------------------------

    async def head(self, driver) -> ChainedEntry | None:
        """The last entry committed (None: an empty chain)."""
        last = await run(_HEAD, driver.fetchrow(_HEAD))
        return ChainedEntry(last["id"], "", last["hash"], last["at"]) if last else None

    async def stage_anchor(self, driver, head: ChainedEntry) -> AuditChainAnchoredV1:
        """Stage ``head`` as an ``audit_chain_anchored`` event in the driver's
        transaction (published by the relay once it commits)."""
        anchor = AuditChainAnchoredV1(
            service=self.service,
            position=head.position,
            hash=head.hash,
            entry_at=head.at,
            anchored_at=datetime.now(UTC),
        )
        event_id = str(uuid.uuid4())
        envelope = Envelope(
            id=event_id,
            type=self._anchor_event.name,
            source=self.runtime.outbox.source,
            subject="",
            dataschema=self._anchor_event.dataschema,
            correlation_id=event_id,  # caused by no request: a correlation of its own
        )
        # CloudEvents: a subject, when present, is never empty.
        headers = [[k, v] for k, v in envelope.to_headers() if k != "ce_subject"]
        row = (  # as Outbox.insert_sql takes them
            envelope.id,
            AUDIT_EVENTS.name,
            self.service,  # the key: one chain's anchors, one partition, in order
            jsonb(headers),
            anchor.model_dump_json().encode(),
            jsonb({}),
        )
        stage = self.runtime.outbox.insert_sql
        await run(stage, driver.execute(stage, *row))
        self.last_anchor = anchor
        return anchor

    async def verify(self, batch: int = 2000) -> Verification:
        """Walk the chain from position 1: each entry must follow the one before
        (position + 1, prev_hash = its hash) and hash to what it says."""
        t = self.table
        position, prev_hash, count = 1, GENESIS, 0
        last_hash: str | None = None
        async with self.runtime.engine.connect() as conn:
            conn = await conn.execution_options(isolation_level="REPEATABLE READ")
            async with conn.begin():
                while True:
                    query = select(t).where(t.c.id >= position).order_by(t.c.id).limit(batch)
                    rows = (await conn.execute(query)).all()
                    for row in rows:
                        if broken := broken_link(row, position, prev_hash):
                            return Verification(
                                ok=False,
                                entries=count,
                                last_position=position - 1 or None,
                                last_hash=last_hash,
                                broken_at=broken[0],
                                reason=broken[1],
                            )
                        count += 1
                        position += 1
                        prev_hash = last_hash = row.hash
                    if len(rows) < batch:
                        break
        return Verification(
            ok=True, entries=count, last_position=count or None, last_hash=last_hash
        )


def _entry_row(entry: dict[str, Any]) -> list:
    """An entry as _INSERT_ENTRY's parameters (JSONB as text, for the driver)."""
    return [jsonb(entry[c]) if c == "record_ids" else entry[c] for c in _ENTRY_COLUMNS]


def _access_of(entry: dict[str, Any]) -> Access:
    """A staged entry (STAGE_SQL's JSON) as the Access it was."""
    return Access(**{**entry, "roles": tuple(entry["roles"])})
