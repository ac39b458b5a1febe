"""Staging events in the business transaction (the transactional outbox).

A service never publishes to Kafka from a request: it inserts outbox rows in
the same transaction as its business rows, so either both are committed or
neither is. The relay alone talks to Kafka.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from functools import cached_property
from typing import Any, Protocol

from opentelemetry import propagate
from sqlalchemy import Table, insert
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession

from rescue_events import context
from rescue_events.contracts.base import EventContract
from rescue_events.driver import in_transaction, jsonb, run, table_name
from rescue_events.envelope import Envelope
from rescue_events.registry import Registry, registry


class Statement(Protocol):
    """Inserts sent as one statement (rescue_chassis.writes.Writes)."""

    def add(self, sql: str, *args: Any) -> None: ...


@dataclass(frozen=True)
class StagedEvent:
    envelope: Envelope
    topic: str
    key: str


class Outbox:
    def __init__(self, table: Table, *, source: str, events: Registry = registry) -> None:
        self.table = table
        self.source = source
        self.events = events

    def envelope_for(self, event: EventContract) -> tuple[Envelope, str]:
        event_type = self.events.for_model(type(event))
        causal = context.current()
        event_id = str(uuid.uuid4())
        envelope = Envelope(
            id=event_id,
            type=event_type.name,
            source=self.source,
            subject=str(event.person_id),
            dataschema=event_type.dataschema,
            # An event with no causing request or event starts its own correlation.
            correlation_id=causal.correlation_id if causal else event_id,
            causation_id=causal.causation_id if causal else None,
            station_id=getattr(event, "station_id", None)
            or (causal.station_id if causal else None),
        )
        return envelope, event_type.topic.name

    async def stage(
        self,
        session: AsyncSession | AsyncConnection,
        event: EventContract,
        *,
        topic: str | None = None,
    ) -> StagedEvent:
        """Add ``event`` to the caller's open transaction; nothing is sent yet.
        ``topic``: another than its contract's (a partner agency's own topic)."""
        staged = self._staged(event, topic)
        await self.stage_raw(
            session,
            event_id=staged.envelope.id,
            topic=staged.topic,
            key=staged.key,
            headers=staged.envelope.to_headers(),
            payload=event.model_dump_json().encode(),
        )
        return staged

    def stage_in(
        self, writes: Statement, event: EventContract, *, topic: str | None = None
    ) -> StagedEvent:
        """As ``stage``, as one of the inserts ``writes`` sends in one statement."""
        staged = self._staged(event, topic)
        writes.add(
            self.insert_sql,
            *self._row(
                staged.envelope.id,
                staged.topic,
                staged.key,
                staged.envelope.to_headers(),
                event.model_dump_json().encode(),
            ),
        )
        return staged

    def _staged(self, event: EventContract, topic: str | None = None) -> StagedEvent:
        envelope, own_topic = self.envelope_for(event)
        return StagedEvent(envelope=envelope, topic=topic or own_topic, key=str(event.person_id))

    @staticmethod
    def _row(event_id, topic, key, headers, payload: bytes) -> tuple:
        """insert_sql's parameters; the trace context is the caller's, now."""
        carrier: dict[str, str] = {}
        propagate.inject(carrier)
        return (event_id, topic, key, jsonb([list(h) for h in headers]), payload, jsonb(carrier))

    async def stage_raw(
        self,
        session: AsyncSession | AsyncConnection,
        *,
        event_id: str,
        topic: str,
        key: str | None,
        headers: list[tuple[str, str]],
        payload: bytes,
    ) -> None:
        driver = await in_transaction(session)
        if driver is not None:  # the usual case: the business rows are written already
            sql = self.insert_sql
            args = self._row(event_id, topic, key, headers, payload)
            await run(sql, driver.execute(sql, *args))
            return
        carrier: dict[str, str] = {}
        propagate.inject(carrier)
        await session.execute(
            insert(self.table).values(
                event_id=event_id,
                topic=topic,
                message_key=key,
                headers=[list(h) for h in headers],
                payload=payload,
                trace_context=carrier,
            )
        )

    @cached_property
    def insert_sql(self) -> str:
        """One outbox row, for the driver (rescue_events.driver): event id, topic,
        key, headers (JSONB text), payload, trace context (JSONB text)."""
        return (
            f"INSERT INTO {table_name(self.table)} "
            "(event_id, topic, message_key, headers, payload, trace_context) "
            "VALUES ($1, $2, $3, $4, $5, $6)"
        )
