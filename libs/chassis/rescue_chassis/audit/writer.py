"""``AuditTrail``: appends entries to a service's chain, each with its
``audit_recorded`` event, and walks the chain to verify it."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime
from typing import Any

from opentelemetry import propagate
from sqlalchemy import Table, select

from rescue_chassis.audit.chain import GENESIS, Access, Verification, broken_link, entry_hash
from rescue_chassis.runtime import Runtime
from rescue_chassis.tables import AUDIT_TABLE
from rescue_events.contracts.audit import AuditRecordedV1
from rescue_events.contracts.topics import AUDIT_EVENTS
from rescue_events.driver import jsonb, own_transaction, run
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


class AuditTrail:
    """A service's audit chain in its own database.

    Appends are grouped: the entries that arrive while one transaction holds the
    chain go together in the next one, so the serialised chain does not cap a
    busy service at one commit per request.
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
        await asyncio.sleep(_GROUP_WAIT)
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
        # On the driver, not SQLAlchemy: a group follows nearly every request (bench/README.md).
        async with own_transaction(self.runtime.engine) as driver:
            return await self._append(driver, group)

    async def _append(self, driver, group) -> list[AuditRecordedV1]:
        # Serialise appends across processes; READ COMMITTED: the next statement
        # sees the last entry committed by whoever held the lock before.
        lock = "SELECT pg_advisory_xact_lock($1)"
        await run(lock, driver.execute(lock, _CHAIN_LOCK_KEY))
        end = f"SELECT id, hash FROM {AUDIT_TABLE} ORDER BY id DESC LIMIT 1"
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


def _uuid_or_none(value: Any) -> uuid.UUID | None:
    try:
        return uuid.UUID(value) if isinstance(value, str) else None
    except ValueError:
        return None
