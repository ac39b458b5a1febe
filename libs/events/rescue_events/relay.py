"""The outbox relay: the one component that publishes to Kafka.

It sends unpublished outbox rows in order and marks a row published only once
the broker acknowledged it (acks=all): at least once, and the consumers' inbox
makes it effectively once.

- Latency: a trigger NOTIFYs on every outbox insert and the relay LISTENs; a
  slow sweep (``idle_sweep_seconds``) catches a lost notification.
- The relay sweeps, in autocommit, on the connection it LISTENs on: never
  waiting in the pool behind the service's requests.
- Replicas: only the holder of the database's relay lock (a session advisory
  lock on that connection) sweeps, so no two reorder one person's events.
- Retention: published rows are kept ``retention_seconds`` with the cluster that
  acknowledged them (``published_to``), so what a broker lost can be sent again.
- Re-publishing: ``BrokerWatch`` notices a broker that came back without its
  data (another cluster id, a topic gone or reset) and marks the kept rows for
  it unpublished again, in one statement, order kept; ``republish(since)`` (and
  ``rescue-ops republish``) does it by hand for a loss the relay cannot see.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime

from aiokafka import AIOKafkaProducer
from aiokafka.errors import KafkaConnectionError, KafkaError
from opentelemetry import propagate, trace
from opentelemetry.trace import SpanKind, Status, StatusCode
from sqlalchemy import Table
from sqlalchemy.ext.asyncio import AsyncEngine

from rescue_events.driver import autocommit, from_jsonb, run, table_name
from rescue_events.kafka import (
    BrokerChanged,
    BrokerWatch,
    KafkaSettings,
    bounded,
    cancelled_from_outside,
    ensure_topics,
)
from rescue_events.registry import Topic, registry
from rescue_events.tables import OUTBOX_CHANNEL

log = logging.getLogger(__name__)
tracer = trace.get_tracer("rescue_events.relay")

# The relay lock of a service database (see the module docstring). The key is
# arbitrary but fixed, and not the audit's.
_RELAY_LOCK_KEY = 0x5E5C0E
_LOCK = "SELECT pg_try_advisory_lock($1)"
DEFAULT_RETENTION_SECONDS = 7 * 24 * 3600.0
# Record header: the event's position in its producer's outbox.
SEQUENCE_HEADER = "rescue_sequence"
_PURGE_BATCH = 5000


@dataclass(frozen=True)
class Republication:
    """Rows marked unpublished again, to be sent once more."""

    at: datetime
    reason: str
    rows: int
    topics: dict[str, int] = field(default_factory=dict)


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
        retention_seconds: float | None = DEFAULT_RETENTION_SECONDS,
        purge_interval_seconds: float = 60.0,
        republish_lost: bool = True,
        watch: BrokerWatch | None = None,
        new_topic_partitions: int = 3,
    ) -> None:
        self.engine = engine
        self.table = table
        self.kafka = kafka
        self.topics = list(topics)
        self.batch_size = batch_size
        self.idle_sweep_seconds = idle_sweep_seconds
        self.retention_seconds = retention_seconds
        self.purge_interval_seconds = purge_interval_seconds
        self.republish_lost = republish_lost
        self.watch = watch or BrokerWatch(kafka)
        # Rows may name a topic outside the registry (a partner agency's own one).
        self.new_topic_partitions = new_topic_partitions
        self._known_topics = {t.name for t in self.topics}
        name = table_name(table)  # the service's own outbox (rescue_events.tables)
        self._pick = (
            "SELECT id, topic, message_key, headers, payload, trace_context, event_id "
            f"FROM {name} WHERE published_at IS NULL ORDER BY id LIMIT $1"
        )
        self._published = (
            f"UPDATE {name} SET published_at = now(), published_to = $2 "
            "WHERE id = ANY($1::bigint[])"
        )
        self._failed = f"UPDATE {name} SET attempts = attempts + 1, last_error = $2 WHERE id = $1"
        # The oldest rows by id, a batch at a time (those published long enough
        # ago): a purge reads at most a batch, never holds up the sweep for long,
        # and needs no index on published_at (one more entry per event published).
        self._purge = (
            f"DELETE FROM {name} WHERE id IN (SELECT id FROM "
            f"(SELECT id, published_at FROM {name} ORDER BY id LIMIT $2) oldest "
            "WHERE published_at < now() - make_interval(secs => $1))"
        )
        # One statement: rows go back in the queue all at once, so the sweep sends
        # them in order (by id) with the rest.
        self._lost = (
            f"WITH again AS (UPDATE {name} SET published_at = NULL, published_to = NULL "
            "WHERE published_at IS NOT NULL "
            "AND (($1 <> '' AND published_to <> $1) OR topic = ANY($2::text[])) "
            "RETURNING topic) "
            "SELECT topic, count(*) FROM again GROUP BY topic"
        )
        self._since = (
            f"WITH again AS (UPDATE {name} SET published_at = NULL, published_to = NULL "
            "WHERE published_at >= $1 AND ($2::text[] IS NULL OR topic = ANY($2::text[])) "
            "RETURNING topic) SELECT topic, count(*) FROM again GROUP BY topic"
        )
        self._wake = asyncio.Event()
        self._producer: AIOKafkaProducer | None = None
        self._holds_lock = False  # on the connection of the current _sweep_forever
        self._cluster_id: str | None = None  # of the broker the producer was started on
        self._connected_at = 0.0  # time.monotonic() of that start
        # (topic, partition) -> the last offset acknowledged there, on this cluster
        self._acked: dict[tuple[str, int], int] = {}
        self._lost_topics: set[str] = set()  # seen gone, to send again at the next connect
        self._next_purge = 0.0
        self.republications: list[Republication] = []  # the latest few, newest last
        self.republished_total = 0

    @property
    def connected(self) -> bool:
        """Whether the relay has a producer and the broker answers (its watch)."""
        return self._producer is not None and self.watch.reachable

    @property
    def sweeping(self) -> bool:
        """Whether this relay holds its database's relay lock: of a service's
        replicas, the one publishing (the others wait for the lock)."""
        return self.connected and self._holds_lock

    @property
    def cluster_id(self) -> str | None:
        return self._cluster_id

    def wake(self) -> None:
        self._wake.set()

    async def run(self) -> None:
        """Run until cancelled, reconnecting to the broker and database as needed."""
        watch = asyncio.create_task(self.watch.run(), name="outbox-relay-watch")
        delay = 0.2
        try:
            while True:
                try:
                    await self._connect()
                    delay = 0.2
                    await self._sweep_forever()
                except asyncio.CancelledError:
                    if cancelled_from_outside():
                        raise
                    log.warning("outbox relay: the Kafka client cancelled itself")
                    await self._close_producer()
                    await asyncio.sleep(delay)
                except BrokerChanged as exc:  # start over at once: nothing to wait for
                    log.warning("outbox relay reconnects: %s", exc)
                    await self._close_producer()
                except Exception as exc:  # broker or database went away: back off, retry
                    log.warning("outbox relay interrupted, retrying in %.1fs: %s", delay, exc)
                    await self._close_producer()
                    await asyncio.sleep(delay)
                    delay = min(delay * 2, 5.0)
        finally:
            watch.cancel()
            await asyncio.gather(watch, return_exceptions=True)
            await self._close_producer()

    async def _connect(self) -> None:
        if self._producer is not None:
            return
        state = await self.watch.probe()
        if not state.reachable:
            raise KafkaConnectionError(f"broker {self.kafka.bootstrap_servers} away: {state.error}")
        gone = {t.name for t in self.topics} - state.topics
        await ensure_topics(self.kafka, self.topics)
        if self.republish_lost:
            await self._republish_lost(state.cluster_id, gone | self._lost_topics)
        self._lost_topics.clear()
        self._known_topics = {t.name for t in self.topics}
        producer = AIOKafkaProducer(
            bootstrap_servers=self.kafka.bootstrap_servers,
            client_id=f"{self.kafka.client_id}-relay",
            acks="all",
            linger_ms=self.kafka.linger_ms,
            max_batch_size=self.kafka.producer_batch_bytes,
            max_request_size=self.kafka.producer_request_bytes,
            request_timeout_ms=self.kafka.request_timeout_ms,
            **self.kafka.client_options(),
        )
        try:
            await bounded(producer.start(), self.kafka.request_timeout_ms / 1000)
        except BaseException:
            await _stop_quietly(producer)
            raise
        self._producer = producer
        self._cluster_id = state.cluster_id
        self._connected_at = time.monotonic()
        self._acked = {}
        log.info(
            "outbox relay connected to %s (cluster %s)",
            self.kafka.bootstrap_servers,
            state.cluster_id,
        )

    async def _republish_lost(self, cluster_id: str | None, gone: set[str]) -> None:
        """Mark unpublished the kept rows this broker does not have (module docstring)."""
        async with autocommit(self.engine) as driver:
            rows = await run(self._lost, driver.fetch(self._lost, cluster_id or "", sorted(gone)))
        counts = {row[0]: row[1] for row in rows}
        if counts:
            reason = f"the broker at {self.kafka.bootstrap_servers} is cluster {cluster_id}" + (
                f"; topics gone: {', '.join(sorted(gone))}" if gone else ""
            )
            self._record(reason, counts)

    async def republish(
        self, since: datetime, topics: Sequence[str] | None = None, *, reason: str
    ) -> Republication:
        """Mark unpublished again every kept row published at or after ``since``
        (of ``topics``, or all), for the relay to send again: after a loss the relay
        cannot see itself. Rows older than the retention are gone already."""
        async with autocommit(self.engine) as driver:
            wanted = list(topics) if topics else None
            rows = await run(self._since, driver.fetch(self._since, since, wanted))
        self.wake()
        return self._record(reason, {row[0]: row[1] for row in rows})

    def _record(self, reason: str, counts: dict[str, int]) -> Republication:
        done = Republication(datetime.now(UTC), reason, sum(counts.values()), counts)
        self.republications = [*self.republications[-9:], done]
        self.republished_total += done.rows
        log.warning(
            "outbox: %d published events marked to be sent again (%s): %s",
            done.rows,
            reason,
            counts,
        )
        return done

    async def _close_producer(self) -> None:
        producer, self._producer = self._producer, None
        if producer is not None:
            await _stop_quietly(producer)

    def _changed(self) -> str | None:
        """What the watch saw since this producer started that its records are not
        on the broker any more, if anything."""
        state = self.watch.state
        if not state.reachable or state.at <= self._connected_at:
            return None
        if self._cluster_id and state.cluster_id and state.cluster_id != self._cluster_id:
            return f"the broker is cluster {state.cluster_id} now, not {self._cluster_id}"
        gone = sorted(t.name for t in self.topics if t.name not in state.topics)
        if gone:
            self._lost_topics.update(gone)
            return f"topics gone from the broker: {', '.join(gone)}"
        return None

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
                    if changed := self._changed():
                        raise BrokerChanged(changed)
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
        picking, and a row is marked published only once the broker acknowledged
        it, so a crash in between publishes it again (the consumers' inbox skips it)."""
        assert self._producer is not None, "relay not connected"
        # On the driver: the sweep runs on every commit that staged events, in
        # every service, and SQLAlchemy's execution layer costs several times the
        # CPU of these fixed statements.
        if not self._holds_lock:
            self._holds_lock = await run(_LOCK, driver.fetchval(_LOCK, _RELAY_LOCK_KEY))
            if not self._holds_lock:
                return 0  # another replica's relay sweeps this database
        if self.retention_seconds is not None and time.monotonic() >= self._next_purge:
            await self._purge_some(driver)
        rows = await run(self._pick, driver.fetch(self._pick, self.batch_size))
        if not rows:
            return 0
        await self._ensure_row_topics(rows)
        outcomes = await self._publish(rows)
        acked = [row["id"] for row, error in zip(rows, outcomes, strict=True) if not error]
        failed = [(row["id"], err) for row, err in zip(rows, outcomes, strict=True) if err]
        if acked:
            sql = self._published
            await run(sql, driver.execute(sql, acked, self._cluster_id))
        for row_id, error in failed:
            await run(self._failed, driver.execute(self._failed, row_id, str(error)[:2000]))
        if failed:
            # Keep the rows and let OutboxRelay.run() back off and reconnect.
            raise KafkaError(
                f"{len(failed)} of {len(rows)} events not acknowledged: {failed[0][1]}"
            )
        if self._lost_topics:
            # An offset went backwards: the partition is not the one we wrote to.
            raise BrokerChanged(
                f"the broker answered offsets below earlier ones on {sorted(self._lost_topics)}"
            )
        return len(acked)

    async def _ensure_row_topics(self, rows) -> None:
        """Create the topics rows name beyond the registry's before the first send:
        explicitly, with our partition count, never by a broker's auto-create."""
        unknown = {row["topic"] for row in rows} - self._known_topics
        if not unknown:
            return
        await ensure_topics(
            self.kafka,
            [
                # a registry topic another service owns keeps the registry's partitions
                registry.topics.get(name)
                or Topic(name, self.new_topic_partitions, "named by an outbox row")
                for name in sorted(unknown)
            ],
        )
        self._known_topics |= unknown

    async def _purge_some(self, driver) -> int:
        """Delete a batch of rows published longer ago than the retention."""
        status = await run(
            self._purge, driver.execute(self._purge, self.retention_seconds, _PURGE_BATCH)
        )
        purged = int(status.split()[-1]) if status else 0
        # A full batch: more to do, soon (between sweeps); otherwise at the interval.
        again = 1.0 if purged >= _PURGE_BATCH // 2 else self.purge_interval_seconds
        self._next_purge = time.monotonic() + again
        if purged:
            log.info("outbox: %d published events past retention purged", purged)
        return purged

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
            # The producer's order across its topics (one transaction's events may go
            # to several): a reader merging them sorts by it.
            headers.append((SEQUENCE_HEADER, str(row["id"]).encode()))
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
        acked = self._acked
        for span, result in zip(spans, results, strict=True):
            if isinstance(result, BaseException):
                span.set_status(Status(StatusCode.ERROR, str(result)))
                outcomes.append(result)
            else:
                where = (result.topic, result.partition)
                last = acked.get(where)
                if last is not None and result.offset <= last:
                    self._lost_topics.add(result.topic)
                acked[where] = result.offset
                span.set_attribute("messaging.destination.partition.id", str(result.partition))
                span.set_attribute("messaging.kafka.offset", result.offset)
                outcomes.append(None)
            span.end()
        return outcomes


async def _stop_quietly(producer: AIOKafkaProducer) -> None:
    try:
        # Bounded: shutdown must finish within a pod's grace period even when the
        # broker is gone. Unacknowledged rows stay in the outbox.
        await bounded(producer.stop(), 5)
    except Exception:  # already broken, or too slow; nothing is lost
        log.debug("producer stop failed", exc_info=True)
