"""The outbox relay: the one component that publishes to Kafka.

It sweeps unpublished outbox rows in order, sends them, and deletes a row only
after the broker acknowledged it (acks=all). A failed send leaves the row in
place and the relay keeps sweeping with backoff, so an event staged while the
broker is unreachable is delivered once it is back: at least once, and the
consumers' inbox makes it effectively once.

Latency: a trigger NOTIFYs on every outbox insert and the relay LISTENs, so an
event is usually on its way within milliseconds of the commit; a slow sweep
(``idle_sweep_seconds``) catches anything a lost notification would miss.

The relay sweeps on the connection it LISTENs on, its own for as long as it
runs: under load the service's requests hold every pooled connection, and a
sweep waiting in the pool's queue behind them (up to 430 ms per sweep at 200
admissions/s) held back every event of the service.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterable

from aiokafka import AIOKafkaProducer
from aiokafka.errors import KafkaError
from opentelemetry import propagate, trace
from opentelemetry.trace import SpanKind, Status, StatusCode
from sqlalchemy import Table
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from rescue_events.driver import from_jsonb, run, table_name, transaction_on
from rescue_events.kafka import KafkaSettings, ensure_topics
from rescue_events.registry import Topic
from rescue_events.tables import OUTBOX_CHANNEL

log = logging.getLogger(__name__)
tracer = trace.get_tracer("rescue_events.relay")

# One relay per service database sweeps at a time, so replicas never reorder
# one person's events between them. The key is arbitrary but fixed.
_RELAY_LOCK_KEY = 0x5E5C0E


class OutboxRelay:
    def __init__(
        self,
        *,
        engine: AsyncEngine,
        table: Table,
        kafka: KafkaSettings,
        topics: Iterable[Topic],
        batch_size: int = 500,
        idle_sweep_seconds: float = 1.0,
    ) -> None:
        self.engine = engine
        self.table = table
        self.kafka = kafka
        self.topics = list(topics)
        self.batch_size = batch_size
        self.idle_sweep_seconds = idle_sweep_seconds
        name = table_name(table)  # the service's own outbox (rescue_events.tables)
        # One relay per database sweeps at a time (the lock, held to the commit);
        # SKIP LOCKED keeps a second one from waiting on rows the first has picked.
        self._pick = (
            "WITH lock AS (SELECT pg_try_advisory_xact_lock($1) AS held) "
            f"SELECT id, topic, message_key, headers, payload, trace_context, event_id "
            f"FROM {name}, lock WHERE lock.held ORDER BY id LIMIT $2 "
            f"FOR UPDATE OF {name} SKIP LOCKED"
        )
        self._delete = f"DELETE FROM {name} WHERE id = ANY($1::bigint[])"
        self._failed = f"UPDATE {name} SET attempts = attempts + 1, last_error = $2 WHERE id = $1"
        self._wake = asyncio.Event()
        self._producer: AIOKafkaProducer | None = None
        self.connected = False

    def wake(self) -> None:
        self._wake.set()

    async def run(self) -> None:
        """Run until cancelled, reconnecting to the broker and database as needed."""
        delay = 0.2
        try:
            while True:
                try:
                    await self._connect()
                    delay = 0.2
                    await self._sweep_forever()
                except asyncio.CancelledError:
                    raise
                except Exception as exc:  # broker or database went away: back off, retry
                    self.connected = False
                    log.warning("outbox relay interrupted, retrying in %.1fs: %s", delay, exc)
                    await self._close_producer()
                    await asyncio.sleep(delay)
                    delay = min(delay * 2, 5.0)
        finally:
            self.connected = False
            await self._close_producer()

    async def _connect(self) -> None:
        if self._producer is not None:
            return
        await ensure_topics(self.kafka, self.topics)
        producer = AIOKafkaProducer(
            bootstrap_servers=self.kafka.bootstrap_servers,
            client_id=f"{self.kafka.client_id}-relay",
            acks="all",
            linger_ms=self.kafka.linger_ms,
            max_batch_size=self.kafka.producer_batch_bytes,
            max_request_size=self.kafka.producer_request_bytes,
            request_timeout_ms=self.kafka.request_timeout_ms,
        )
        await producer.start()
        self._producer = producer
        self.connected = True
        log.info("outbox relay connected to %s", self.kafka.bootstrap_servers)

    async def _close_producer(self) -> None:
        producer, self._producer = self._producer, None
        if producer is not None:
            try:
                # Bounded: shutdown must finish within a pod's grace period even
                # when the broker is gone. Unacknowledged rows stay in the outbox.
                await asyncio.wait_for(producer.stop(), timeout=5)
            except Exception:  # already broken, or too slow; nothing is lost
                log.debug("producer stop failed", exc_info=True)

    async def _sweep_forever(self) -> None:
        async with self.engine.connect() as own:
            raw = await own.get_raw_connection()
            listener = raw.driver_connection  # asyncpg: LISTEN needs the driver itself
            on_notify = lambda *_: self.wake()  # noqa: E731
            await listener.add_listener(OUTBOX_CHANNEL, on_notify)
            try:
                while True:
                    published = await self.sweep_once(own)
                    if published >= self.batch_size:
                        continue  # a backlog: keep draining without waiting
                    if listener.is_closed():
                        raise ConnectionError("LISTEN connection closed")
                    try:
                        await asyncio.wait_for(self._wake.wait(), self.idle_sweep_seconds)
                    except TimeoutError:
                        pass
                    self._wake.clear()
            finally:
                if not listener.is_closed():
                    await listener.remove_listener(OUTBOX_CHANNEL, on_notify)

    async def sweep_once(self, connection: AsyncConnection) -> int:
        """Publish one batch, in a transaction on ``connection`` (the relay's own);
        returns how many rows the broker acknowledged."""
        assert self._producer is not None, "relay not connected"
        # The sweep runs on every commit that staged events, in every service: on the
        # driver connection, with the lock and the pick in one statement, it costs
        # four round trips (begin, pick, delete, commit) and a fraction of the CPU
        # SQLAlchemy's execution layer takes for the same statements.
        async with transaction_on(connection) as driver:
            rows = await run(self._pick, driver.fetch(self._pick, _RELAY_LOCK_KEY, self.batch_size))
            if not rows:
                return 0
            outcomes = await self._publish(rows)
            acked = [row["id"] for row, error in zip(rows, outcomes, strict=True) if not error]
            failed = [(row["id"], err) for row, err in zip(rows, outcomes, strict=True) if err]
            if acked:
                await run(self._delete, driver.execute(self._delete, acked))
            for row_id, error in failed:
                await run(self._failed, driver.execute(self._failed, row_id, str(error)[:2000]))
        if failed:
            # Keep the rows and let OutboxRelay.run() back off and reconnect.
            raise KafkaError(
                f"{len(failed)} of {len(rows)} events not acknowledged: {failed[0][1]}"
            )
        return len(acked)

    async def _publish(self, rows) -> list[BaseException | None]:
        producer = self._producer
        pending = []
        spans = []
        for row in rows:
            parent = propagate.extract(from_jsonb(row["trace_context"]) or {})
            span = tracer.start_span(
                f"{row['topic']} publish",
                context=parent,
                kind=SpanKind.PRODUCER,
                attributes={
                    "messaging.system": "kafka",
                    "messaging.operation.type": "send",
                    "messaging.destination.name": row["topic"],
                    "messaging.message.id": row["event_id"],
                    "messaging.kafka.message.key": row["message_key"] or "",
                },
            )
            carrier: dict[str, str] = {}
            propagate.inject(carrier, context=trace.set_span_in_context(span))
            headers = [(name, value.encode()) for name, value in from_jsonb(row["headers"])]
            headers += [(name, value.encode()) for name, value in carrier.items()]
            spans.append(span)
            try:
                key = row["message_key"]
                delivery = await producer.send(
                    row["topic"],
                    value=row["payload"],
                    key=key.encode() if key is not None else None,
                    headers=headers,
                )
            except KafkaError as exc:  # e.g. no metadata for the topic yet
                delivery = asyncio.get_running_loop().create_future()
                delivery.set_exception(exc)
            pending.append(delivery)
        results = await asyncio.gather(*pending, return_exceptions=True)
        outcomes: list[BaseException | None] = []
        for span, result in zip(spans, results, strict=True):
            if isinstance(result, BaseException):
                span.set_status(Status(StatusCode.ERROR, str(result)))
                outcomes.append(result)
            else:
                span.set_attribute("messaging.destination.partition.id", str(result.partition))
                span.set_attribute("messaging.kafka.offset", result.offset)
                outcomes.append(None)
            span.end()
        return outcomes
