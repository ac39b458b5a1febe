"""Idempotent event consumers (the inbox) with retries and a dead-letter topic.

1. A handler's effects and its inbox row ``(consumer, event id)`` commit in one
   transaction: a second delivery finds the row and changes nothing.
2. The offset is committed after that transaction (at most every
   ``offset_commit_interval_ms``, and before partitions move): a crash in
   between is a redelivery, never a loss.
3. A failing handler is retried with backoff, then dead-lettered (the
   ``dead_letters`` row and the dead-letter topic through the outbox, in one
   transaction) before the offset moves on. An unreadable record (no
   CloudEvents headers, bad JSON, a broken contract) is dead-lettered at once.
   A database outage is retried until the database is back, never dead-lettered.

A broker that is another cluster than the one joined, or that lost a topic the
consumer reads, has neither the group nor its offsets: the consumer starts over
from the earliest offset (the inbox skips what was applied); so does an offset
commit that never completes. The readable records of one fetch are applied in
one transaction; if anything fails they are applied one by one: the batch
changes the cost, never the guarantees.

A consumer subscribes to the topics of the events it handles. Retired topics
(a move to another topic, rescue_events.registry) are drained first: while the
group has lag on one whose successors it reads, it reads only the retired ones,
so a person's events staged before the move are applied before the newer ones.
"""

from __future__ import annotations

import asyncio
import base64
import enum
import logging
import time
import uuid
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import cached_property

from aiokafka import AIOKafkaConsumer, ConsumerRebalanceListener, TopicPartition
from aiokafka.errors import CommitFailedError, KafkaConnectionError, KafkaError
from opentelemetry import propagate, trace
from opentelemetry.trace import SpanKind, Status, StatusCode
from pydantic import ValidationError
from sqlalchemy import select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from rescue_events.context import CausalContext, caused_by
from rescue_events.contracts.base import EventContract
from rescue_events.driver import begun, run, table_name
from rescue_events.envelope import TRACE_HEADERS, Envelope, MalformedEnvelope, trace_carrier
from rescue_events.kafka import (
    BrokerChanged,
    BrokerWatch,
    KafkaSettings,
    bounded,
    cancelled_from_outside,
    ensure_topics,
)
from rescue_events.outbox import Outbox
from rescue_events.registry import (
    DEAD_LETTER_PARTITIONS,
    Registry,
    Topic,
    dead_letter_topic_name,
    parse_schema_urn,
    registry,
)
from rescue_events.tables import PlumbingTables

log = logging.getLogger(__name__)
tracer = trace.get_tracer("rescue_events.consumer")

Handler = Callable[[AsyncSession, EventContract, Envelope], Awaitable[None]]


class Outcome(enum.StrEnum):
    APPLIED = "applied"
    DUPLICATE = "duplicate"
    IGNORED = "ignored"  # an event type this consumer does not handle
    DEAD_LETTERED = "dead_lettered"


class DeadLetterReason(enum.StrEnum):
    MALFORMED_ENVELOPE = "malformed_envelope"
    UNSUPPORTED_VERSION = "unsupported_version"
    INVALID_PAYLOAD = "invalid_payload"
    HANDLER_FAILED = "handler_failed"
    REJECTED = "rejected"


class DeadLetterClosed(Exception):
    """A dead letter that was discarded (or replayed) cannot be replayed or
    discarded again."""


class Rejected(Exception):
    """A handler refuses a well-formed event that must not be applied (e.g. an
    answer from an agency the referral was not sent to): dead-lettered at once,
    since retrying cannot change the answer."""


@dataclass(frozen=True)
class ReceivedRecord:
    """The parts of a Kafka record the consumer reads (also rebuilt for replays)."""

    topic: str
    partition: int
    offset: int
    key: bytes | None
    value: bytes | None
    headers: Sequence[tuple[str, bytes]]


@dataclass(frozen=True)
class PartitionLag:
    topic: str
    partition: int
    committed: int | None
    end: int
    lag: int
    assigned: bool = True  # to this member of the group (the others: to another, or none)


@dataclass(frozen=True)
class _Readable:
    """A record whose envelope and payload were read: ready to apply."""

    record: ReceivedRecord
    envelope: Envelope
    event: EventContract
    handler: Handler


@dataclass(frozen=True)
class _Unreadable:
    """A record that can never be applied, and why (it is dead-lettered at once)."""

    reason: DeadLetterReason
    error: str
    envelope: Envelope | None = None


class _BatchFailed(Exception):
    """A batch rolled back; ``failed`` is the record whose handler raised, if one did."""

    def __init__(self, failed: _Readable | None, cause: BaseException) -> None:
        super().__init__(str(cause))
        self.failed = failed
        self.cause = cause


class RetiredBacklog(Exception):
    """Events staged before a move reached a retired topic after the consumer
    drained it: it starts over to drain them first."""


# How often a running consumer asks whether rows staged before a move arrived late.
RETIRED_RECHECK_SECONDS = 60.0
# How long a probe of the retired topics waits for a record past the group's offsets.
RETIRED_PROBE_MS = 300


class ReplayFailed(Exception):
    def __init__(self, reason: DeadLetterReason, error: str) -> None:
        super().__init__(f"{reason}: {error}")
        self.reason = reason
        self.error = error


@dataclass(frozen=True)
class RetryPolicy:
    max_attempts: int = 5
    initial_delay: float = 0.1
    max_delay: float = 2.0

    def delay(self, attempt: int) -> float:
        return min(self.initial_delay * 2 ** (attempt - 1), self.max_delay)


def is_transient(exc: BaseException) -> bool:
    """Infrastructure trouble (database or network), as opposed to a bad message."""
    if isinstance(exc, OperationalError | InterfaceError):
        return True
    if isinstance(exc, DBAPIError) and exc.connection_invalidated:
        return True
    return isinstance(exc, OSError | ConnectionError | TimeoutError)


class EventConsumer:
    def __init__(
        self,
        *,
        name: str,
        kafka: KafkaSettings,
        sessions: async_sessionmaker[AsyncSession],
        tables: PlumbingTables,
        outbox: Outbox,
        handlers: Mapping[type[EventContract], Handler],
        events: Registry = registry,
        retry: RetryPolicy = RetryPolicy(),
        max_batch: int = 200,
    ) -> None:
        self.name = name
        self.kafka = kafka
        self.sessions = sessions
        self.tables = tables
        self.outbox = outbox
        self.retry = retry
        self.max_batch = max_batch
        self._handlers = {events.for_model(model).key: (model, h) for model, h in handlers.items()}
        self._handled_names = {name for name, _ in self._handlers}
        self.topics = sorted({events.for_model(m).topic for m in handlers}, key=lambda t: t.name)
        # The first layout's topics that carried these events: drained before them.
        self.retired = events.retired_before(self.topics)
        self.dead_letter_topic = Topic(
            name=dead_letter_topic_name(name),
            partitions=DEAD_LETTER_PARTITIONS,
            description=f"Records the {name} consumer could not apply.",
        )
        self.watch = BrokerWatch(kafka)
        self._live: AIOKafkaConsumer | None = None
        self._cluster_id: str | None = None  # of the broker the live consumer joined
        self._started_at = 0.0  # time.monotonic() of that start
        self.restarts = 0  # starts over after the broker changed or a commit stalled

    @property
    def connected(self) -> bool:
        """Whether the consumer runs and the broker answers (its watch)."""
        return self._live is not None and self.watch.reachable

    # -- the loop ---------------------------------------------------------------

    async def run(self) -> None:
        """Consume until cancelled; reconnects with backoff when the broker is away."""
        watch = asyncio.create_task(self.watch.run(), name=f"consumer-{self.name}-watch")
        delay = 0.2
        try:
            while True:
                consumer = None
                gone = False  # the broker changed: nothing to leave or commit there
                try:
                    state = await self.watch.probe()
                    if not state.reachable:
                        raise KafkaConnectionError(
                            f"broker {self.kafka.bootstrap_servers} away: {state.error}"
                        )
                    await ensure_topics(self.kafka, [*self.topics, self.dead_letter_topic])
                    await self._drain_retired()
                    consumer = self._new_kafka_consumer()
                    await bounded(consumer.start(), self.kafka.request_timeout_ms / 1000)
                    self._live = consumer
                    self._cluster_id = state.cluster_id
                    self._started_at = time.monotonic()
                    delay = 0.2
                    log.info(
                        "consumer %s subscribed to %s (cluster %s)",
                        self.name,
                        [t.name for t in self.topics],
                        state.cluster_id,
                    )
                    await self._consume(consumer)
                except asyncio.CancelledError:
                    if cancelled_from_outside():
                        raise
                    log.warning("consumer %s: the Kafka client cancelled itself", self.name)
                    await asyncio.sleep(delay)
                except RetiredBacklog as exc:  # drain it first, then the live topics again
                    log.warning("consumer %s starts over: %s", self.name, exc)
                except BrokerChanged as exc:  # start over at once: the group is gone
                    gone = True
                    self.restarts += 1
                    log.warning("consumer %s starts over: %s", self.name, exc)
                except Exception as exc:
                    log.warning(
                        "consumer %s interrupted, retrying in %.1fs: %s", self.name, delay, exc
                    )
                    await asyncio.sleep(delay)
                    delay = min(delay * 2, 5.0)
                finally:
                    self._live = None
                    if consumer is not None:
                        await _stop_quietly(consumer, within=1.0 if gone else 5.0)
        finally:
            watch.cancel()
            await asyncio.gather(watch, return_exceptions=True)

    def _changed(self) -> str | None:
        """What the watch saw since this consumer started that means its group and
        offsets are not on the broker any more, if anything."""
        state = self.watch.state
        if not state.reachable or state.at <= self._started_at:
            return None
        if self._cluster_id and state.cluster_id and state.cluster_id != self._cluster_id:
            return f"the broker is cluster {state.cluster_id} now, not {self._cluster_id}"
        wanted = [*self.topics, self.dead_letter_topic]
        gone = sorted(t.name for t in wanted if t.name not in state.topics)
        if gone:
            return f"topics gone from the broker: {', '.join(gone)}"
        return None

    async def lag(self) -> list[PartitionLag]:
        """How far the group is behind on every partition of the topics it reads:
        the end of the partition minus the group's committed offset (all of it if
        none yet), whichever member the partition is assigned to, if any."""
        consumer = self._live
        if consumer is None or not self.watch.reachable:
            raise ConnectionError(f"consumer {self.name} is not connected to the broker")
        partitions = [
            TopicPartition(t.name, p)
            for t in self.topics
            for p in sorted(consumer.partitions_for_topic(t.name) or ())
        ]
        if not partitions:
            return []
        ends = await consumer.end_offsets(partitions)
        committed = await self.watch.committed(self.name, partitions)
        mine = consumer.assignment()
        lags = []
        for tp in partitions:
            done = committed.get(tp)
            behind = max(ends[tp] - (done or 0), 0)
            lags.append(PartitionLag(tp.topic, tp.partition, done, ends[tp], behind, tp in mine))
        return lags

    async def _retired_lag(
        self, consumer: AIOKafkaConsumer, topics: list[Topic], committed: dict | None = None
    ) -> int:
        """The group's lag on ``topics``: their ends minus its committed offsets (read
        from the broker unless given)."""
        partitions = [TopicPartition(t.name, p) for t in topics for p in range(t.partitions)]
        ends = await consumer.end_offsets(partitions)
        if committed is None:
            committed = await self.watch.committed(self.name, partitions)
        return sum(max(ends[tp] - (committed.get(tp) or 0), 0) for tp in partitions)

    def _retired_on_broker(self) -> list[Topic]:
        on_broker = self.watch.state.topics
        return [t for t in self.retired if t.name in on_broker]

    async def _retired_backlog(self, retired: list[Topic]) -> int:
        """The group's lag on ``retired``, asked without joining the group; when the
        end offsets say none, a fetch from the group's offsets has the last word
        (tansu answers a partition's end as its last batch's first offset + 1, so a
        group stopped inside that batch looks caught up)."""
        if not retired:
            return 0
        probe = self._new_kafka_consumer(group=False)
        await bounded(probe.start(), self.kafka.request_timeout_ms / 1000)
        try:
            partitions = [TopicPartition(t.name, p) for t in retired for p in range(t.partitions)]
            probe.assign(partitions)
            committed = await self.watch.committed(self.name, partitions)
            if behind := await self._retired_lag(probe, retired, committed):
                return behind
            for tp, at in committed.items():
                if at is not None:
                    probe.seek(tp, at)
            found = await probe.getmany(timeout_ms=RETIRED_PROBE_MS, max_records=self.max_batch)
            return sum(len(part) for part in found.values())
        finally:
            await _stop_quietly(probe)

    async def _drain_retired(self) -> None:
        """Before the live topics: apply what the group has not read yet of the
        retired topics (rows the outbox staged before the move), until their lag
        is zero. Nothing of the successors is read before, so one person's older
        events are applied before the newer ones; the inbox skips any already applied."""
        retired = self._retired_on_broker()
        if not retired or not await self._retired_backlog(retired):
            return
        consumer = self._new_kafka_consumer()
        await bounded(consumer.start(), self.kafka.request_timeout_ms / 1000)
        try:
            offsets = _PendingOffsets(consumer, 0.0, timeout=self.kafka.request_timeout_ms / 1000)
            consumer.subscribe([t.name for t in retired], listener=offsets)
            empty = 0  # fetches in a row that found nothing, since this member joined
            while True:
                fetched = await self._apply_fetch(consumer, offsets, timeout_ms=500)
                await offsets.commit()  # the lag is read from the committed offsets
                empty = empty + 1 if not fetched and offsets.joined else 0
                # Drained when this member's partitions are read to their end (its
                # fetches come back empty) and the group's lag is zero (the others'):
                # not the lag alone, which tansu under-reports inside a last batch.
                if empty < 2:
                    continue
                if not (behind := await self._retired_lag(consumer, retired)):
                    break
                log.info("consumer %s drains %d events of retired topics", self.name, behind)
            log.info("consumer %s: retired topics drained", self.name)
        finally:
            await _stop_quietly(consumer)

    def _new_kafka_consumer(self, *, group: bool = True) -> AIOKafkaConsumer:
        return AIOKafkaConsumer(
            bootstrap_servers=self.kafka.bootstrap_servers,
            client_id=f"{self.kafka.client_id}-consumer",
            group_id=self.name if group else None,
            # Offsets move only after the database commit (see the module docstring).
            enable_auto_commit=False,
            auto_offset_reset="earliest",
            max_poll_records=self.max_batch,
            fetch_max_wait_ms=self.kafka.fetch_max_wait_ms,
            session_timeout_ms=self.kafka.session_timeout_ms,
            heartbeat_interval_ms=self.kafka.heartbeat_interval_ms,
            request_timeout_ms=max(
                self.kafka.request_timeout_ms, self.kafka.session_timeout_ms + 1
            ),
            **self.kafka.client_options(),
        )

    async def _consume(self, consumer: AIOKafkaConsumer) -> None:
        offsets = _PendingOffsets(
            consumer,
            self.kafka.offset_commit_interval_ms / 1000,
            timeout=self.kafka.request_timeout_ms / 1000,
        )
        consumer.subscribe([t.name for t in self.topics], listener=offsets)
        recheck = time.monotonic() + RETIRED_RECHECK_SECONDS
        probe: asyncio.Task[int] | None = None  # the recheck runs beside the fetches
        try:
            while True:
                if changed := self._changed():
                    raise BrokerChanged(changed)
                await self._apply_fetch(consumer, offsets, timeout_ms=offsets.wait_ms(1000))
                await offsets.commit_if_due()
                if self.retired and probe is None and time.monotonic() >= recheck:
                    probe = asyncio.create_task(self._retired_backlog(self._retired_on_broker()))
                if probe is not None and probe.done():
                    done, probe = probe, None
                    recheck = time.monotonic() + RETIRED_RECHECK_SECONDS
                    if behind := done.result():
                        await offsets.commit()
                        raise RetiredBacklog(f"{behind} events arrived late on retired topics")
        finally:
            if probe is not None:
                probe.cancel()
                await asyncio.gather(probe, return_exceptions=True)

    # -- a fetch's records --------------------------------------------------------

    async def _apply_fetch(
        self, consumer: AIOKafkaConsumer, offsets: _PendingOffsets, *, timeout_ms: int
    ) -> int:
        """One fetch of ``consumer`` applied (handle_batch), its offsets then pending
        in ``offsets``: the live loop and the drain of retired topics alike. Returns
        how many records it fetched."""
        batches = await consumer.getmany(timeout_ms=timeout_ms, max_records=self.max_batch)
        if not batches:
            return 0
        # One person's events share a partition (key = person_id) and each
        # partition's records stay in order within the batch, so their order holds.
        await self.handle_batch([record for part in batches.values() for record in part])
        # Applied and committed to the database: their offsets may move.
        offsets.applied(
            {
                TopicPartition(tp.topic, tp.partition): part[-1].offset + 1
                for tp, part in batches.items()
            }
        )
        return sum(len(part) for part in batches.values())

    async def handle_batch(self, records: Sequence[ReceivedRecord]) -> list[Outcome]:
        """Apply the records of one fetch; returns each record's outcome, in order.

        Unreadable records are dead-lettered, the readable ones applied in one
        transaction; if that fails, each is applied on its own (with the usual
        retries), the one whose handler failed counting the batch as its first try."""
        outcomes: list[Outcome | None] = [None] * len(records)
        readable: list[tuple[int, _Readable]] = []
        for i, record in enumerate(records):
            read = self._read(record)
            if read is None:
                outcomes[i] = Outcome.IGNORED
            elif isinstance(read, _Unreadable):
                outcomes[i] = await self._dead_letter(
                    record, read.reason, read.error, read.envelope, 1
                )
            else:
                readable.append((i, read))
        if len(readable) == 1:
            i, read = readable[0]
            outcomes[i] = await self.handle(read.record, read=read)
        elif readable:
            try:
                together = await self._apply_together([read for _, read in readable])
            except _BatchFailed as failure:
                log.info(
                    "consumer %s: a batch of %d rolled back (%s); applying one by one",
                    self.name,
                    len(readable),
                    failure.cause,
                )
                for i, read in readable:
                    tried = 1 if read is failure.failed and not is_transient(failure.cause) else 0
                    outcomes[i] = await self.handle(read.record, tried=tried, read=read)
            else:
                for (i, _), outcome in zip(readable, together, strict=True):
                    outcomes[i] = outcome
        assert all(o is not None for o in outcomes), "every record has its outcome"
        return outcomes  # type: ignore[return-value]

    async def _apply_together(self, batch: list[_Readable]) -> list[Outcome]:
        """All of ``batch`` in one transaction: one inbox insert for every event,
        then each first-time event's handler, in order. Raises _BatchFailed."""
        outcomes: list[Outcome] = []
        failed: _Readable | None = None
        try:
            async with self.sessions() as session, session.begin():
                new = await self._record_in_inbox(session, batch)
                for read in batch:
                    with self._span(read.record) as span:
                        if read.envelope.id not in new:  # seen before, or twice in this batch
                            outcomes.append(Outcome.DUPLICATE)
                        else:
                            new.discard(read.envelope.id)
                            failed = read
                            with caused_by(_causal(read.envelope)):
                                await read.handler(session, read.event, read.envelope)
                            failed = None
                            outcomes.append(Outcome.APPLIED)
                        span.set_attribute("rescue.outcome", outcomes[-1].value)
        except Exception as exc:
            raise _BatchFailed(failed, exc) from exc
        return outcomes

    # -- one record -------------------------------------------------------------

    async def handle(
        self, record: ReceivedRecord, *, tried: int = 0, read: _Readable | None = None
    ) -> Outcome:
        """Apply one record on its own; ``tried`` attempts were already made, and
        ``read`` is the record already read (handle_batch's), not to be read again."""
        with self._span(record) as span:
            outcome = await self._process(record, replaying=False, tried=tried, read=read)
            span.set_attribute("rescue.outcome", outcome.value)
            if outcome is Outcome.DEAD_LETTERED:
                span.set_status(Status(StatusCode.ERROR, "dead-lettered"))
            return outcome

    def _span(self, record: ReceivedRecord):
        """The record's process span, a child of the trace that staged the event."""
        return tracer.start_as_current_span(
            f"{record.topic} process",
            context=propagate.extract(_safe_trace_carrier(record.headers)),
            kind=SpanKind.CONSUMER,
            attributes={
                "messaging.system": "kafka",
                "messaging.operation.type": "process",
                "messaging.destination.name": record.topic,
                "messaging.consumer.group.name": self.name,
                "messaging.destination.partition.id": str(record.partition),
                "messaging.kafka.offset": record.offset,
            },
        )

    def _read(self, record: ReceivedRecord) -> _Readable | _Unreadable | None:
        """The record's envelope and payload, why it can never be applied, or None
        for an event type this consumer does not handle."""
        try:
            envelope = Envelope.from_headers(record.headers)
            name, version = parse_schema_urn(envelope.dataschema)
        except (MalformedEnvelope, ValueError) as exc:
            return _Unreadable(DeadLetterReason.MALFORMED_ENVELOPE, str(exc))
        if name != envelope.type:
            return _Unreadable(
                DeadLetterReason.MALFORMED_ENVELOPE,
                f"ce_type {envelope.type!r} does not match ce_dataschema {envelope.dataschema!r}",
                envelope,
            )
        found = self._handlers.get((name, version))
        if found is None:
            if name in self._handled_names:
                return _Unreadable(
                    DeadLetterReason.UNSUPPORTED_VERSION,
                    f"{name} v{version} has no handler here",
                    envelope,
                )
            return None
        model, handler = found
        try:
            event = model.model_validate_json(record.value or b"")
        except ValidationError as exc:
            return _Unreadable(DeadLetterReason.INVALID_PAYLOAD, _short(exc), envelope)
        if envelope.subject and envelope.subject != str(event.person_id):
            return _Unreadable(
                DeadLetterReason.INVALID_PAYLOAD,
                f"ce_subject {envelope.subject!r} is not the event's person_id {event.person_id}",
                envelope,
            )
        return _Readable(record, envelope, event, handler)

    async def _process(
        self,
        record: ReceivedRecord,
        *,
        replaying: bool,
        tried: int = 0,
        read: _Readable | None = None,
    ) -> Outcome:
        async def reject(reason: DeadLetterReason, error: str, envelope=None, attempts=1):
            if replaying:
                raise ReplayFailed(reason, error)
            return await self._dead_letter(record, reason, error, envelope, attempts)

        if read is None:
            found = self._read(record)
            if found is None:
                return Outcome.IGNORED
            if isinstance(found, _Unreadable):
                return await reject(found.reason, found.error, found.envelope)
            read = found
        envelope, event, handler = read.envelope, read.event, read.handler

        attempt = tried
        while True:
            attempt += 1
            try:
                applied = await self._apply(record, envelope, event, handler)
                return Outcome.APPLIED if applied else Outcome.DUPLICATE
            except Rejected as exc:
                log.warning("consumer %s rejects %s: %s", self.name, envelope.id, exc)
                return await reject(DeadLetterReason.REJECTED, str(exc), envelope, attempt)
            except Exception as exc:
                if is_transient(exc) and not replaying:
                    attempt -= 1  # the database or network, not the message
                    log.warning("consumer %s: transient failure, retrying: %s", self.name, exc)
                    await asyncio.sleep(self.retry.max_delay)
                    continue
                if attempt >= (1 if replaying else self.retry.max_attempts):
                    log.exception(
                        "consumer %s gives up on %s after %d attempts",
                        self.name,
                        envelope.id,
                        attempt,
                    )
                    return await reject(
                        DeadLetterReason.HANDLER_FAILED,
                        f"{type(exc).__name__}: {exc}",
                        envelope,
                        attempt,
                    )
                await asyncio.sleep(self.retry.delay(attempt))

    async def _apply(self, record, envelope: Envelope, event: EventContract, handler) -> bool:
        async with self.sessions() as session, session.begin():
            if not await self._record_in_inbox(
                session, [_Readable(record, envelope, event, handler)]
            ):
                return False
            with caused_by(_causal(envelope)):
                await handler(session, event, envelope)
        return True

    async def _record_in_inbox(self, session: AsyncSession, batch: list[_Readable]) -> set[str]:
        """Insert the inbox rows of ``batch`` in the session's transaction; the ids of
        the events seen for the first time (a duplicate, even within ``batch``, is not).

        One statement on the driver (rescue_events.driver) for the whole fetch: it
        runs once per transaction of every consumer."""
        driver = await begun(session)
        columns = (
            [read.envelope.id for read in batch],
            [read.envelope.type for read in batch],
            [read.record.topic for read in batch],
            [read.record.partition for read in batch],
            [read.record.offset for read in batch],
        )
        sql = self._inbox_sql
        rows = await run(sql, driver.fetch(sql, self.name, *columns))
        return {row[0] for row in rows}

    @cached_property
    def _inbox_sql(self) -> str:
        return (
            f"INSERT INTO {table_name(self.tables.inbox)} "
            '(consumer, event_id, event_type, topic, partition, "offset") '
            "SELECT $1, * FROM unnest($2::text[], $3::text[], $4::text[], $5::int[], $6::bigint[]) "
            "ON CONFLICT ON CONSTRAINT inbox_pkey DO NOTHING RETURNING event_id"
        )

    # -- dead letters -----------------------------------------------------------

    async def _dead_letter(
        self,
        record: ReceivedRecord,
        reason: DeadLetterReason,
        error: str,
        envelope: Envelope | None,
        attempts: int,
    ) -> Outcome:
        log.error(
            "consumer %s dead-letters %s/%d/%d (%s): %s",
            self.name,
            record.topic,
            record.partition,
            record.offset,
            reason,
            error,
        )
        dead = self.tables.dead_letters
        forwarded_headers = [
            (name, value.decode("utf-8", "replace"))
            for name, value in record.headers
            if name not in TRACE_HEADERS
        ] + [
            ("rescue_dlq_consumer", self.name),
            ("rescue_dlq_reason", reason.value),
            ("rescue_dlq_error", error[:1000]),
            ("rescue_dlq_origin", f"{record.topic}/{record.partition}/{record.offset}"),
        ]
        while True:
            try:
                async with self.sessions() as session, session.begin():
                    stored = (
                        await session.execute(
                            pg_insert(dead)
                            .values(
                                consumer=self.name,
                                topic=record.topic,
                                partition=record.partition,
                                offset=record.offset,
                                event_id=envelope.id if envelope else None,
                                event_type=envelope.type if envelope else None,
                                message_key=record.key,
                                headers=[
                                    [n, base64.b64encode(v).decode()] for n, v in record.headers
                                ],
                                payload=record.value,
                                reason=reason.value,
                                error=error,
                                attempts=attempts,
                            )
                            .on_conflict_do_nothing(constraint="dead_letters_position")
                            .returning(dead.c.id)
                        )
                    ).first()
                    if stored is not None:
                        await self.outbox.stage_raw(
                            session,
                            event_id=f"dead-letter-{uuid.uuid4()}",
                            topic=self.dead_letter_topic.name,
                            key=record.key.decode("utf-8", "replace") if record.key else None,
                            headers=forwarded_headers,
                            payload=record.value or b"",
                        )
                return Outcome.DEAD_LETTERED
            except Exception as exc:
                if not is_transient(exc):
                    raise
                log.warning("consumer %s: cannot store dead letter yet: %s", self.name, exc)
                await asyncio.sleep(self.retry.max_delay)

    async def replay(
        self,
        dead_letter_id: int,
        *,
        on_record: Callable[[AsyncSession, Outcome], Awaitable[None]] | None = None,
    ) -> Outcome:
        """Apply a dead letter again, e.g. after a fix; raises ReplayFailed if it still
        fails, DeadLetterClosed if it was discarded. The letter is marked replayed, and
        ``on_record`` (the caller's audit entry) runs, in the transaction that applies
        it: all of it commits, or none."""
        dead = self.tables.dead_letters
        async with self.sessions() as session:
            row = (
                await session.execute(
                    select(dead).where(dead.c.id == dead_letter_id, dead.c.consumer == self.name)
                )
            ).first()
        if row is None:
            raise LookupError(f"no dead letter {dead_letter_id} for {self.name}")
        if row.discarded_at is not None:
            raise DeadLetterClosed(
                f"dead letter {dead_letter_id} was discarded by {row.discarded_by} "
                f"at {row.discarded_at.isoformat()}: {row.discard_reason}"
            )
        if row.replayed_at is not None:
            return Outcome.DUPLICATE
        record = ReceivedRecord(
            topic=row.topic,
            partition=row.partition,
            offset=row.offset,
            key=row.message_key,
            value=row.payload,
            headers=[(n, base64.b64decode(v)) for n, v in row.headers],
        )
        closed: list[str] = []

        async def mark_replayed(session: AsyncSession, outcome: Outcome) -> None:
            # Only while open: a concurrent replay or discard of the letter wins.
            marked = await session.execute(
                update(dead)
                .where(
                    dead.c.id == dead_letter_id,
                    dead.c.replayed_at.is_(None),
                    dead.c.discarded_at.is_(None),
                )
                .values(replayed_at=datetime.now(UTC))
                .returning(dead.c.id)
            )
            if marked.first() is None:
                closed.append(f"dead letter {dead_letter_id} was replayed or discarded meanwhile")
                raise DeadLetterClosed(closed[0])
            if on_record is not None:
                await on_record(session, outcome)

        read = self._read(record)
        if isinstance(read, _Readable):  # applied: marked in the handler's transaction
            handler = read.handler

            async def apply_and_mark(session: AsyncSession, event, envelope) -> None:
                await handler(session, event, envelope)
                await mark_replayed(session, Outcome.APPLIED)

            read = _Readable(read.record, read.envelope, read.event, apply_and_mark)
        try:
            with tracer.start_as_current_span(f"{row.topic} replay", kind=SpanKind.CONSUMER):
                outcome = await self._process(
                    record, replaying=True, read=read if isinstance(read, _Readable) else None
                )
        except ReplayFailed:
            if closed:
                raise DeadLetterClosed(closed[0]) from None
            raise
        if outcome is not Outcome.APPLIED:  # nothing applied (a duplicate, ignored)
            async with self.sessions() as session, session.begin():
                await mark_replayed(session, outcome)
        return outcome

    async def discard(
        self,
        dead_letter_id: int,
        *,
        by: str,
        reason: str,
        on_record: Callable[[AsyncSession], Awaitable[None]] | None = None,
    ) -> None:
        """Set a dead letter aside for good, on record (who, when, why): it is never
        replayed. Raises LookupError, or DeadLetterClosed if it was replayed or
        discarded already. ``on_record`` (the caller's audit entry) runs in the
        discard's transaction."""
        dead = self.tables.dead_letters
        async with self.sessions() as session, session.begin():
            row = (
                await session.execute(
                    select(dead.c.replayed_at, dead.c.discarded_at)
                    .where(dead.c.id == dead_letter_id, dead.c.consumer == self.name)
                    .with_for_update()
                )
            ).first()
            if row is None:
                raise LookupError(f"no dead letter {dead_letter_id} for {self.name}")
            if row.replayed_at is not None or row.discarded_at is not None:
                what = "replayed" if row.replayed_at is not None else "discarded"
                raise DeadLetterClosed(f"dead letter {dead_letter_id} was {what} already")
            await session.execute(
                update(dead)
                .where(dead.c.id == dead_letter_id)
                .values(discarded_at=datetime.now(UTC), discarded_by=by, discard_reason=reason)
            )
            if on_record is not None:
                await on_record(session)
        log.warning(
            "consumer %s: dead letter %d discarded by %s: %s", self.name, dead_letter_id, by, reason
        )


def _causal(envelope: Envelope) -> CausalContext:
    """What the handler's own events will name as their correlation and cause."""
    return CausalContext(
        correlation_id=envelope.correlation_id or envelope.id,
        causation_id=envelope.id,
        station_id=envelope.station_id,
    )


def _safe_trace_carrier(headers) -> dict[str, str]:
    try:
        return trace_carrier(headers)
    except MalformedEnvelope:
        return {}


def _short(exc: ValidationError) -> str:
    return "; ".join(
        f"{'.'.join(str(p) for p in e['loc']) or '(body)'}: {e['msg']}" for e in exc.errors()[:10]
    )


class _PendingOffsets(ConsumerRebalanceListener):
    """Offsets of records already applied (their database transaction committed),
    sent to the broker at most every ``interval`` seconds, and before partitions
    are handed to another member. What is still pending when a consumer dies is
    only read again, and the inbox skips it: the delay changes the cost, never the
    guarantees."""

    def __init__(self, consumer: AIOKafkaConsumer, interval: float, timeout: float) -> None:
        self.consumer = consumer
        self.interval = interval
        self.timeout = timeout
        self.pending: dict[TopicPartition, int] = {}
        self.last = time.monotonic()
        self.joined = False  # the group gave this member its partitions (maybe none)

    def applied(self, offsets: Mapping[TopicPartition, int]) -> None:
        self.pending.update(offsets)

    def wait_ms(self, idle_ms: int) -> int:
        """How long the next fetch may wait: until pending offsets are due."""
        if not self.pending:
            return idle_ms
        due = self.last + self.interval - time.monotonic()
        return max(0, min(idle_ms, int(due * 1000)))

    async def commit_if_due(self) -> None:
        if self.pending and time.monotonic() - self.last >= self.interval:
            await self.commit()

    async def commit(self) -> None:
        offsets, self.pending = self.pending, {}
        self.last = time.monotonic()
        if not offsets:
            return
        try:
            # Bounded: the client retries some refusals forever (a partition the
            # broker does not know), and a consumer waiting for it applies nothing.
            await bounded(self.consumer.commit(offsets), self.timeout)
        except CommitFailedError as exc:
            # The partitions moved to another member; it will see these
            # records again and the inbox will skip them.
            log.info("offset commit after rebalance skipped: %s", exc)
        except TimeoutError:
            raise BrokerChanged(f"an offset commit did not complete in {self.timeout:g}s") from None

    async def on_partitions_revoked(self, revoked) -> None:
        # Before another member takes them over: it starts after what was applied.
        try:
            await self.commit()
        except KafkaError as exc:  # the inbox skips what the next member reads again
            log.warning("offset commit before rebalance failed: %s", exc)

    async def on_partitions_assigned(self, assigned) -> None:
        self.joined = True


async def _stop_quietly(consumer: AIOKafkaConsumer, within: float = 5.0) -> None:
    try:
        # Bounded like the relay's: uncommitted offsets are only redeliveries.
        await bounded(consumer.stop(), within)
    except Exception:
        log.debug("consumer stop failed", exc_info=True)
