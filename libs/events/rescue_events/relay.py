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

Replicas: one relay per service database sweeps, the one holding the
database's relay lock (a session advisory lock on that connection), so two
never reorder one person's events between them. The holder keeps it while its
connection lives; when the relay stops or its connection breaks, the
connection is closed, never pooled, and the lock passes to the next replica
that wakes. Holding it for the connection's life, rather than per sweep, lets a
sweep run in autocommit: a pick and a delete, two round trips instead of four
(begin, pick, delete, commit), each waiting behind the service's requests on
its event loop.
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
from sqlalchemy.ext.asyncio import AsyncEngine

from rescue_events.driver import from_jsonb, run, table_name
from rescue_events.kafka import KafkaSettings, ensure_topics
from rescue_events.registry import Topic
from rescue_events.tables import OUTBOX_CHANNEL

log = logging.getLogger(__name__)
tracer = trace.get_tracer("rescue_events.relay")

# The relay lock of a service database (see the module docstring). The key is
# arbitrary but fixed, and not the audit's.
_RELAY_LOCK_KEY = 0x5E5C0E
_LOCK = "SELECT pg_try_advisory_lock($1)"


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
        self._pick = (
            "SELECT id, topic, message_key, headers, payload, trace_context, event_id "
            f"FROM {name} ORDER BY id LIMIT $1"
        )
        self._delete = f"DELETE FROM {name} WHERE id = ANY($1::bigint[])"
        self._failed = f"UPDATE {name} SET attempts = attempts + 1, last_error = $2 WHERE id = $1"
        self._wake = asyncio.Event()
        self._producer: AIOKafkaProducer | None = None
        self._holds_lock = False  # on the connection of the current _sweep_forever
        self.connected = False

    @property
    def sweeping(self) -> bool:
        """Whether this relay holds its database's relay lock: of a service's
        replicas, the one publishing (the others wait for the lock)."""
        return self.connected and self._holds_lock

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
            # asyncpg itself: LISTEN needs it, and the sweep's statements go to it.
            driver = (await own.get_raw_connection()).driver_connection
            # Out of the pool for good: closed, not pooled, when the relay stops or
            # fails, so the relay lock it may hold is released with it (sweep_once).
            await own.run_sync(lambda connection: connection.detach())
            self._holds_lock = False
            on_notify = lambda *_: self.wake()  # noqa: E731
            await driver.add_listener(OUTBOX_CHANNEL, on_notify)
            try:
                while True:
                    published = await self.sweep_once(driver)
                    if published >= self.batch_size:
                        continue  # a backlog: keep draining without waiting
                    if driver.is_closed():
                        raise ConnectionError("LISTEN connection closed")
                    try:
                        await asyncio.wait_for(self._wake.wait(), self.idle_sweep_seconds)
                    except TimeoutError:
                        pass
                    self._wake.clear()
            finally:
                if not driver.is_closed():
                    await driver.remove_listener(OUTBOX_CHANNEL, on_notify)

    async def sweep_once(self, driver) -> int:
        """Publish one batch if this relay holds the relay lock, taking it if free,
        on ``driver`` (the asyncpg connection of the relay's own, detached from
        the pool); returns how many rows the broker acknowledged.

        Each statement commits on its own: the lock makes this relay the only one
        picking, and a row is deleted only once the broker acknowledged it, so a
        crash in between publishes it again (the consumers' inbox skips it)."""
        assert self._producer is not None, "relay not connected"
        # On the driver: the sweep runs on every commit that staged events, in
        # every service, and SQLAlchemy's execution layer costs several times the
        # CPU of these fixed statements.
        if not self._holds_lock:
            self._holds_lock = await run(_LOCK, driver.fetchval(_LOCK, _RELAY_LOCK_KEY))
            if not self._holds_lock:
                return 0  # another replica's relay sweeps this database
        rows = await run(self._pick, driver.fetch(self._pick, self.batch_size))
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
