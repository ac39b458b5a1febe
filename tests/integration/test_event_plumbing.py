"""The delivery guarantees, on the real embedded Postgres and the real broker.

Uses the search service's own schema and handler as the consumer under test.
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
import uuid
from datetime import UTC, datetime

import pytest
from opentelemetry import trace
from sqlalchemy import func, select, text
from sqlalchemy.ext.asyncio import AsyncSession, create_async_engine
from sqlalchemy.pool import NullPool
from support import JWT_SECRET, SPANS, eventually, migrated_database, produce_raw, read_topic

from rescue_chassis.app import build_runtime
from rescue_events.consumer import (
    EventConsumer,
    Outcome,
    ReceivedRecord,
    ReplayFailed,
    RetryPolicy,
)
from rescue_events.contracts import PersonAdmittedV1, SearchCaseOpenedV1
from rescue_events.contracts.topics import INTAKE_STAYS, SEARCH_COUNTED
from rescue_events.outbox import Outbox
from rescue_localnet.broker import TansuBroker, free_port
from search.app import service as search_service
from search.handlers import handlers as search_handlers
from search.settings import SearchSettings
from search.tables import SearchCase

pytestmark = pytest.mark.integration

# Three attempts, milliseconds apart: a failing handler reaches its dead letter fast.
QUICK_RETRIES = RetryPolicy(max_attempts=3, initial_delay=0.01, max_delay=0.05)


def admission(person_id: uuid.UUID | None = None) -> PersonAdmittedV1:
    now = datetime.now(UTC)
    return PersonAdmittedV1(
        person_id=person_id or uuid.uuid4(),
        station_id="gushi",
        arrived_at=now,
        admitted_at=now,
        arrival_route="own_request",
        identity_status="unknown",
        sex="male",
    )


async def kafka_message(event: PersonAdmittedV1) -> dict:
    """The exact record the intake relay would publish for ``event``."""
    envelope, topic = Outbox(None, source="/rescue-network/intake").envelope_for(event)
    return dict(
        value=event.model_dump_json().encode(),
        key=str(event.person_id).encode(),
        headers=[(n, v.encode()) for n, v in envelope.to_headers()],
    )


@pytest.fixture
async def runtime(postgres, broker):
    url = await migrated_database(postgres, search_service.migrations_dir)
    settings = SearchSettings(
        database_url=url, kafka_bootstrap_servers=broker.bootstrap_servers, jwt_secret=JWT_SECRET
    )
    runtime = build_runtime(search_service, settings)
    yield runtime
    await runtime.engine.dispose()


class Running:
    """Background tasks for one test, cancelled at its end."""

    def __init__(self):
        self.tasks = []

    def start(self, coro):
        self.tasks.append(asyncio.create_task(coro))

    async def stop(self):
        for task in self.tasks:
            task.cancel()
        done, pending = await asyncio.wait(self.tasks, timeout=15) if self.tasks else ((), ())
        self.tasks = []
        assert not pending, f"background tasks ignored cancellation: {pending}"


@pytest.fixture
async def running():
    tasks = Running()
    yield tasks
    await tasks.stop()


def a_consumer(runtime, handlers=None, retry: RetryPolicy | None = None) -> EventConsumer:
    """A consumer with its own group, so tests do not share offsets."""
    return EventConsumer(
        name=f"search-test-{uuid.uuid4().hex[:8]}",
        kafka=runtime.relay.kafka,
        sessions=runtime.sessions,
        tables=runtime.tables.plumbing,
        outbox=runtime.outbox,
        handlers=handlers or search_handlers(runtime),
        retry=retry or RetryPolicy(),
    )


def spy_on(consumer: EventConsumer) -> list[tuple[bytes, Outcome]]:
    """Outcomes by record key. A new group reads the topic from the start, so
    tests look only at their own person's records."""
    seen: list[tuple[bytes, Outcome]] = []
    handle_batch = consumer.handle_batch

    async def recording(records):
        outcomes = await handle_batch(records)
        seen.extend(zip((r.key for r in records), outcomes, strict=True))
        return outcomes

    consumer.handle_batch = recording
    return seen


async def count(runtime, query) -> int:
    async with runtime.sessions() as session:
        return await session.scalar(query)


async def outbox_rows(runtime) -> int:
    """Rows still to publish (published ones are kept for the retention window)."""
    outbox = runtime.tables.plumbing.outbox
    return await count(
        runtime, select(func.count()).select_from(outbox).where(outbox.c.published_at.is_(None))
    )


async def test_relay_publishes_committed_events_and_never_rolled_back_ones(
    runtime, running, broker
):
    person_id = uuid.uuid4()
    rolled_back = SearchCaseOpenedV1(
        person_id=person_id,
        case_id=uuid.uuid4(),
        station_id="gushi",
        opened_at=datetime.now(UTC),
        notice_due_at=datetime.now(UTC),
    )
    committed = rolled_back.model_copy(update={"case_id": uuid.uuid4()})
    async with runtime.sessions() as session:
        await runtime.outbox.stage(session, rolled_back)
        await session.rollback()
    async with runtime.sessions() as session:
        staged = await runtime.outbox.stage(session, committed)
        await session.commit()
    running.start(runtime.relay.run())

    records = await read_topic(
        broker.bootstrap_servers,
        SEARCH_COUNTED.name,
        until=lambda rs: any(r.key == str(person_id).encode() for r in rs),
    )
    mine = [r for r in records if r.key == str(person_id).encode()]
    assert len(mine) == 1
    headers = {n: v.decode() for n, v in mine[0].headers}
    assert headers["ce_id"] == staged.envelope.id
    assert headers["ce_type"] == "search_case_opened"
    assert headers["ce_subject"] == str(person_id)
    assert headers["ce_dataschema"] == "urn:rescue-network:events:search_case_opened:v1"
    assert headers["traceparent"].startswith("00-")
    assert json.loads(mine[0].value)["case_id"] == str(committed.case_id)
    await eventually(lambda: _is_zero(outbox_rows(runtime)))


async def test_the_relay_publishes_while_requests_hold_every_pooled_connection(
    runtime, running, broker
):
    """Under load a service's requests hold all its pooled connections; the relay
    sweeps on its own, taken out of the pool, so events still go out (they waited
    behind the requests)."""

    async def stage_case_of(person_id, engine):
        async with AsyncSession(engine) as session:
            await runtime.outbox.stage(
                session,
                SearchCaseOpenedV1(
                    person_id=person_id,
                    case_id=uuid.uuid4(),
                    station_id="gushi",
                    opened_at=datetime.now(UTC),
                    notice_due_at=datetime.now(UTC),
                ),
            )
            await session.commit()

    running.start(runtime.relay.run())
    # Published: the relay has its own connection and sweeps.
    await stage_case_of(uuid.uuid4(), runtime.engine)
    await eventually(lambda: _is_zero(outbox_rows(runtime)))
    pool = runtime.engine.pool
    held = [await runtime.engine.connect() for _ in range(pool.size() + pool._max_overflow)]
    person_id = uuid.uuid4()
    # Staged from outside the pool, as a request that got the last connection would.
    other = create_async_engine(runtime.settings.database_url, poolclass=NullPool)
    try:
        await stage_case_of(person_id, other)
        # Well within the pool's 30 s checkout timeout: a sweep that needed a pooled
        # connection would still be waiting.
        records = await read_topic(
            broker.bootstrap_servers,
            SEARCH_COUNTED.name,
            until=lambda rs: any(r.key == str(person_id).encode() for r in rs),
            timeout=10,
        )
        assert [r.key for r in records].count(str(person_id).encode()) == 1
        assert pool.checkedout() == len(held)
    finally:
        for connection in held:
            await connection.close()
        await other.dispose()
    await eventually(lambda: _is_zero(outbox_rows(runtime)))


async def test_two_relays_on_one_database_publish_each_event_once_and_in_order(
    runtime, running, broker
):
    """Replicas: one relay holds the database's relay lock and publishes; when it
    stops, its connection closes with the lock and the other takes over."""
    person_id = uuid.uuid4()
    staged: list[str] = []

    async def stage(n: int) -> None:
        for _ in range(n):  # one commit each, as requests do
            async with runtime.sessions() as session:
                event = admission(person_id)
                staged.append((await runtime.outbox.stage(session, event)).envelope.id)
                await session.commit()

    def published(records) -> list[str]:
        key = str(person_id).encode()
        return [dict(r.headers)["ce_id"].decode() for r in records if r.key == key]

    async def read_until(count: int) -> list[str]:
        records = await read_topic(
            broker.bootstrap_servers,
            INTAKE_STAYS.name,
            until=lambda rs: len(published(rs)) >= count,
        )
        return published(records)

    second = build_runtime(search_service, runtime.settings).relay
    second.engine = runtime.engine
    relays = [runtime.relay, second]
    for relay in relays:
        running.start(relay.run())
    await eventually(lambda: all(relay.connected for relay in relays))
    await stage(10)
    assert await read_until(10) == staged
    await eventually(lambda: _is_zero(outbox_rows(runtime)))
    holders = [i for i, relay in enumerate(relays) if relay.sweeping]
    assert len(holders) == 1

    holder, other = holders[0], 1 - holders[0]
    running.tasks[holder].cancel()
    await asyncio.wait([running.tasks[holder]], timeout=15)
    await stage(5)
    assert await read_until(15) == staged  # once each, in the order they were staged
    await eventually(lambda: _is_zero(outbox_rows(runtime)))
    assert relays[other].sweeping
    assert not relays[holder].sweeping


async def _is_zero(awaitable) -> bool:
    return await awaitable == 0


async def _equals(awaitable, expected) -> bool:
    return await awaitable == expected


async def test_events_staged_while_the_broker_is_away_are_delivered_when_it_returns(
    runtime, running, tmp_path
):
    late_broker = TansuBroker(free_port(), tmp_path / "late-broker.log")
    relay = build_runtime(
        search_service,
        runtime.settings.model_copy(
            update={"kafka_bootstrap_servers": late_broker.bootstrap_servers}
        ),
    ).relay
    relay.engine = runtime.engine
    running.start(relay.run())
    people = [uuid.uuid4() for _ in range(5)]
    async with runtime.sessions() as session:
        for person_id in people:
            await runtime.outbox.stage(session, admission(person_id).model_copy())
        await session.commit()

    await asyncio.sleep(1.5)
    assert not relay.connected
    assert await outbox_rows(runtime) == 5  # held safely, not lost

    late_broker.start()
    try:
        records = await read_topic(
            late_broker.bootstrap_servers,
            INTAKE_STAYS.name,
            timeout=30,
            until=lambda rs: len({r.key for r in rs}) >= 5,
        )
        assert {r.key for r in records} == {str(p).encode() for p in people}
        assert len(records) == 5
        await eventually(lambda: _is_zero(outbox_rows(runtime)))
    finally:
        await running.stop()
        late_broker.stop()


async def test_a_duplicate_delivery_is_applied_once(runtime, running, broker):
    consumer = a_consumer(runtime)
    outcomes = spy_on(consumer)
    event = admission()
    message = await kafka_message(event)
    await produce_raw(broker.bootstrap_servers, INTAKE_STAYS.name, **message)
    await produce_raw(broker.bootstrap_servers, INTAKE_STAYS.name, **message)
    running.start(consumer.run())

    key = message["key"]
    await eventually(lambda: len([o for k, o in outcomes if k == key]) >= 2, timeout=30)
    assert sorted(o for k, o in outcomes if k == key) == [Outcome.APPLIED, Outcome.DUPLICATE]
    assert (
        await count(
            runtime,
            select(func.count())
            .select_from(SearchCase)
            .where(SearchCase.person_id == event.person_id),
        )
        == 1
    )
    inbox = runtime.tables.plumbing.inbox
    event_id = dict(message["headers"])["ce_id"].decode()
    assert (
        await count(
            runtime,
            select(func.count())
            .select_from(inbox)
            .where(inbox.c.consumer == consumer.name, inbox.c.event_id == event_id),
        )
        == 1
    )


async def test_malformed_messages_go_to_the_dead_letter_topic_and_the_consumer_keeps_going(
    runtime, running, broker
):
    consumer = a_consumer(runtime)
    key = str(uuid.uuid4()).encode()
    await produce_raw(
        broker.bootstrap_servers, INTAKE_STAYS.name, value=b"\x00not json", key=key, headers=[]
    )
    broken = await kafka_message(admission())
    broken["value"] = b'{"person_id": "not-a-uuid"}'
    broken["key"] = key
    await produce_raw(broker.bootstrap_servers, INTAKE_STAYS.name, **broken)
    good = admission()
    await produce_raw(broker.bootstrap_servers, INTAKE_STAYS.name, **await kafka_message(good))
    running.start(consumer.run())
    running.start(runtime.relay.run())

    await eventually(
        lambda: count(
            runtime,
            select(func.count())
            .select_from(SearchCase)
            .where(SearchCase.person_id == good.person_id),
        ),
        timeout=30,
    )
    dead = runtime.tables.plumbing.dead_letters
    # The three records sit on different partitions: no order between them.
    await eventually(
        lambda: _equals(
            count(
                runtime,
                select(func.count()).select_from(dead).where(dead.c.consumer == consumer.name),
            ),
            2,
        ),
        timeout=30,
    )
    async with runtime.sessions() as session:
        reasons = (
            await session.scalars(
                select(dead.c.reason)
                .where(dead.c.consumer == consumer.name)
                .order_by(dead.c.offset)
            )
        ).all()
    assert sorted(reasons) == ["invalid_payload", "malformed_envelope"]

    records = await read_topic(
        broker.bootstrap_servers, consumer.dead_letter_topic.name, until=lambda rs: len(rs) >= 2
    )
    assert len(records) == 2
    by_reason = {dict(r.headers)["rescue_dlq_reason"].decode(): r for r in records}
    assert by_reason["malformed_envelope"].value == b"\x00not json"
    assert by_reason["invalid_payload"].key == key
    assert (
        dict(by_reason["invalid_payload"].headers)["rescue_dlq_consumer"] == consumer.name.encode()
    )


async def test_a_failing_handler_is_retried_then_dead_lettered_and_replayed_after_a_fix(
    runtime, running, broker
):
    calls = []
    fixed = False
    open_case = search_handlers(runtime)[PersonAdmittedV1]
    event = admission()

    async def flaky(session, admitted, envelope):
        if admitted.person_id == event.person_id:  # other tests' events pass through
            calls.append(admitted.person_id)
            if not fixed:
                raise RuntimeError("notice service misconfigured")
        await open_case(session, admitted, envelope)

    consumer = a_consumer(
        runtime,
        {PersonAdmittedV1: flaky},
        QUICK_RETRIES,
    )
    await produce_raw(broker.bootstrap_servers, INTAKE_STAYS.name, **await kafka_message(event))
    running.start(consumer.run())

    dead = runtime.tables.plumbing.dead_letters
    dead_id = await eventually(
        lambda: count(
            runtime,
            select(dead.c.id).where(
                dead.c.consumer == consumer.name,
                dead.c.message_key == str(event.person_id).encode(),
                dead.c.reason == "handler_failed",
            ),
        ),
        timeout=30,
    )
    assert calls == [event.person_id] * 3
    assert await count(runtime, select(dead.c.attempts).where(dead.c.id == dead_id)) == 3
    with pytest.raises(ReplayFailed, match="misconfigured"):
        await consumer.replay(dead_id)

    fixed = True
    assert await consumer.replay(dead_id) is Outcome.APPLIED
    assert await consumer.replay(dead_id) is Outcome.DUPLICATE
    assert (
        await count(
            runtime,
            select(func.count())
            .select_from(SearchCase)
            .where(SearchCase.person_id == event.person_id),
        )
        == 1
    )


def as_fetched(messages: list[dict]) -> list[ReceivedRecord]:
    """Records as one fetch would hand them over (one partition, consecutive offsets)."""
    return [
        ReceivedRecord(INTAKE_STAYS.name, 0, offset, m["key"], m["value"], m["headers"])
        for offset, m in enumerate(messages)
    ]


async def cases_of(runtime, person_id: uuid.UUID) -> int:
    return await count(
        runtime,
        select(func.count()).select_from(SearchCase).where(SearchCase.person_id == person_id),
    )


async def test_a_fetch_is_applied_in_one_transaction_duplicates_and_poison_included(runtime):
    consumer = a_consumer(runtime)
    first, second = admission(), admission()
    messages = [await kafka_message(first), await kafka_message(second)]
    poison = {"key": b"k", "value": b"\x00not json", "headers": []}
    records = as_fetched([messages[0], poison, messages[1], messages[0]])

    outcomes = await consumer.handle_batch(records)

    assert outcomes == [
        Outcome.APPLIED,
        Outcome.DEAD_LETTERED,
        Outcome.APPLIED,
        Outcome.DUPLICATE,  # the same event twice in one fetch
    ]
    assert await cases_of(runtime, first.person_id) == 1
    assert await cases_of(runtime, second.person_id) == 1
    # Both inbox rows were written by one transaction (the same xmin).
    async with runtime.sessions() as session:
        writers = await session.scalar(
            text("SELECT count(DISTINCT xmin::text) FROM inbox WHERE consumer = :c"),
            {"c": consumer.name},
        )
    assert writers == 1
    # A second delivery of the whole fetch changes nothing.
    again = await consumer.handle_batch(records)
    assert again == [Outcome.DUPLICATE, Outcome.DEAD_LETTERED, Outcome.DUPLICATE, Outcome.DUPLICATE]
    assert await cases_of(runtime, first.person_id) == 1


async def test_a_handler_failing_in_a_fetch_costs_the_others_nothing(runtime):
    """The batch rolls back; each record is then applied on its own. The failing one
    counts the batch as its first attempt and is dead-lettered after the last."""
    open_case = search_handlers(runtime)[PersonAdmittedV1]
    good, bad, later = admission(), admission(), admission()
    calls = []

    async def failing_for_bad(session, admitted, envelope):
        calls.append(admitted.person_id)
        if admitted.person_id == bad.person_id:
            raise RuntimeError("notice service misconfigured")
        await open_case(session, admitted, envelope)

    consumer = a_consumer(
        runtime,
        {PersonAdmittedV1: failing_for_bad},
        QUICK_RETRIES,
    )
    records = as_fetched([await kafka_message(e) for e in (good, bad, later)])

    outcomes = await consumer.handle_batch(records)

    assert outcomes == [Outcome.APPLIED, Outcome.DEAD_LETTERED, Outcome.APPLIED]
    assert calls.count(bad.person_id) == 3  # the batch's try and two more
    assert await cases_of(runtime, good.person_id) == 1
    assert await cases_of(runtime, later.person_id) == 1
    assert await cases_of(runtime, bad.person_id) == 0
    dead = runtime.tables.plumbing.dead_letters
    assert (
        await count(
            runtime,
            select(dead.c.attempts).where(
                dead.c.consumer == consumer.name,
                dead.c.message_key == str(bad.person_id).encode(),
            ),
        )
        == 3
    )


async def test_the_consumer_continues_the_trace_of_the_business_transaction(
    runtime, running, broker
):
    consumer = a_consumer(runtime)
    event = admission()
    tracer = trace.get_tracer("test")
    with tracer.start_as_current_span("POST /persons") as request_span:
        async with runtime.sessions() as session:
            await runtime.outbox.stage(session, event)
            await session.commit()
    running.start(runtime.relay.run())
    running.start(consumer.run())
    await eventually(
        lambda: count(
            runtime,
            select(func.count())
            .select_from(SearchCase)
            .where(SearchCase.person_id == event.person_id),
        ),
        timeout=30,
    )
    trace_id = request_span.get_span_context().trace_id
    spans = [s for s in SPANS.get_finished_spans() if s.context.trace_id == trace_id]
    publish = next(s for s in spans if s.name == "rescue.intake.stays publish")
    process = next(
        s
        for s in spans
        if s.name == "rescue.intake.stays process"
        and s.attributes["messaging.consumer.group.name"] == consumer.name
    )
    assert publish.parent.span_id == request_span.get_span_context().span_id
    assert process.parent.span_id == publish.context.span_id


# -- offsets: after the database commit, coalesced, before partitions move ---------


def a_member(runtime, group: str, interval_ms: int) -> tuple[EventConsumer, list[dict]]:
    """A consumer of ``group`` whose offset commits are recorded as they are sent."""
    consumer = EventConsumer(
        name=group,
        kafka=dataclasses.replace(runtime.relay.kafka, offset_commit_interval_ms=interval_ms),
        sessions=runtime.sessions,
        tables=runtime.tables.plumbing,
        outbox=runtime.outbox,
        handlers=search_handlers(runtime),
    )
    commits: list[dict] = []
    new_kafka_consumer = consumer._new_kafka_consumer

    def recorded(**options):
        kafka_consumer = new_kafka_consumer(**options)
        commit = kafka_consumer.commit

        async def recording(offsets=None):
            commits.append(dict(offsets or {}))
            return await commit(offsets)

        kafka_consumer.commit = recording
        return kafka_consumer

    consumer._new_kafka_consumer = recorded
    return consumer, commits


async def admit(broker, event) -> bytes:
    message = await kafka_message(event)
    await produce_raw(broker.bootstrap_servers, INTAKE_STAYS.name, **message)
    return message["key"]


async def test_applied_offsets_are_committed_within_the_interval_not_once_per_fetch(
    runtime, running, broker
):
    group = f"search-test-{uuid.uuid4().hex[:8]}"
    consumer, commits = a_member(runtime, group, interval_ms=2000)
    outcomes = spy_on(consumer)
    running.start(consumer.run())
    await eventually(lambda: consumer.connected and consumer._live.assignment(), timeout=30)

    events = [admission() for _ in range(6)]
    for event in events:  # one at a time: each arrives in a fetch of its own
        key = await admit(broker, event)
        await eventually(lambda key=key: any(k == key for k, _ in outcomes), timeout=30)
    for event in events:
        assert await cases_of(runtime, event.person_id) == 1

    # Every applied record's offset reaches the broker within the interval …
    await eventually(lambda: _lags_are_zero(consumer), timeout=10)
    # … in fewer commits than the six fetches (each fetch committed its own before).
    assert 1 <= len(commits) < len(events)


async def _lags_are_zero(consumer) -> bool:
    lags = await consumer.lag()
    return bool(lags) and all(p.lag == 0 for p in lags if p.topic == INTAKE_STAYS.name)


async def test_records_applied_but_not_yet_committed_are_read_again_and_applied_once(
    runtime, broker
):
    group = f"search-test-{uuid.uuid4().hex[:8]}"
    event = admission()
    key = await admit(broker, event)

    first, commits = a_member(runtime, group, interval_ms=600_000)  # never due in this test
    seen_first = spy_on(first)
    stopped = Running()
    stopped.start(first.run())
    await eventually(lambda: (key, Outcome.APPLIED) in seen_first, timeout=30)
    await stopped.stop()  # stopped before its offsets were due: none was sent
    assert commits == []

    second, _ = a_member(runtime, group, interval_ms=400)
    seen_second = spy_on(second)
    stopped.start(second.run())
    try:
        # The same group reads the record again; the inbox knows it.
        await eventually(lambda: (key, Outcome.DUPLICATE) in seen_second, timeout=30)
    finally:
        await stopped.stop()
    assert await cases_of(runtime, event.person_id) == 1


async def test_a_member_losing_partitions_commits_what_it_applied_first(runtime, running, broker):
    group = f"search-test-{uuid.uuid4().hex[:8]}"
    first, commits = a_member(runtime, group, interval_ms=600_000)  # only a rebalance commits
    seen_first = spy_on(first)
    running.start(first.run())
    await eventually(lambda: first.connected and first._live.assignment(), timeout=30)
    key = await admit(broker, admission())
    await eventually(lambda: (key, Outcome.APPLIED) in seen_first, timeout=30)
    assert commits == []

    second, _ = a_member(runtime, group, interval_ms=600_000)
    running.start(second.run())
    # The group rebalances to share the partitions: the first member sends what it
    # applied before giving any partition up.
    await eventually(lambda: commits, timeout=30)
    committed = {tp.partition: offset for tp, offset in commits[0].items()}
    assert committed and all(offset > 0 for offset in committed.values())
