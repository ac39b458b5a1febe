"""The move to the topic layout of issue 30, on the real broker and Postgres: a
consumer drains the retired topic (rows staged before the move) before it reads
the successor, applies every event once, and a person's older events first."""

from __future__ import annotations

import asyncio
import dataclasses
import uuid
from collections import Counter
from datetime import UTC, datetime

import pytest
from support import JWT_SECRET, eventually, migrated_database, produce_raw

from rescue_chassis.app import build_runtime
from rescue_events import consumer as consumer_module
from rescue_events.consumer import EventConsumer, Outcome
from rescue_events.contracts import PersonAdmittedV1, PersonDischargedV1
from rescue_events.contracts.topics import INTAKE_EVENTS, INTAKE_STAYS
from rescue_events.kafka import ensure_topics
from rescue_events.outbox import Outbox
from search.app import service as search_service
from search.settings import SearchSettings

pytestmark = pytest.mark.integration

INTAKE = Outbox(None, source="/rescue-network/intake")


@pytest.fixture
async def runtime(postgres, broker):
    url = await migrated_database(postgres, search_service.migrations_dir)
    settings = SearchSettings(
        database_url=url, kafka_bootstrap_servers=broker.bootstrap_servers, jwt_secret=JWT_SECRET
    )
    runtime = build_runtime(search_service, settings)
    await ensure_topics(runtime.relay.kafka, [INTAKE_EVENTS, INTAKE_STAYS])
    yield runtime
    await runtime.engine.dispose()


def admitted(person_id: uuid.UUID) -> PersonAdmittedV1:
    now = datetime.now(UTC)
    return PersonAdmittedV1(
        person_id=person_id,
        station_id="gushi",
        arrived_at=now,
        admitted_at=now,
        arrival_route="own_request",
        identity_status="unknown",
        sex="male",
    )


def discharged(person_id: uuid.UUID) -> PersonDischargedV1:
    return PersonDischargedV1(
        person_id=person_id,
        stay_id=uuid.uuid4(),
        station_id="gushi",
        discharged_at=datetime.now(UTC),
        reason="left",
    )


async def staged(broker, topic: str, event) -> str:
    """The record the relay would publish for ``event``, on ``topic``; its id."""
    envelope, _ = INTAKE.envelope_for(event)
    await produce_raw(
        broker.bootstrap_servers,
        topic,
        value=event.model_dump_json().encode(),
        key=str(event.person_id).encode(),
        headers=[(n, v.encode()) for n, v in envelope.to_headers()],
    )
    return envelope.id


class Applied:
    """What a consumer applied, in order: an event counts once its transaction
    committed (handle_batch returned); a duplicate is the inbox skipping it."""

    def __init__(self) -> None:
        self.outcomes: list[tuple[str, Outcome]] = []

    @property
    def ids(self) -> list[str]:
        return [i for i, outcome in self.outcomes if outcome is Outcome.APPLIED]

    def of(self, event_id: str) -> list[Outcome]:
        return [outcome for i, outcome in self.outcomes if i == event_id]

    def watch(self, consumer: EventConsumer) -> EventConsumer:
        handle_batch = consumer.handle_batch

        async def recording(records):
            found = await handle_batch(records)
            for record, outcome in zip(records, found, strict=True):
                self.outcomes.append((dict(record.headers).get("ce_id", b"").decode(), outcome))
            return found

        consumer.handle_batch = recording
        return consumer


async def nothing_more(session, event, envelope) -> None:
    """The handler: the inbox row is what is applied."""


def a_consumer(runtime, group: str, applied: Applied) -> EventConsumer:
    # a group join waits about half the session timeout: 1 s here, not 3 s per join
    kafka = dataclasses.replace(
        runtime.relay.kafka, session_timeout_ms=2000, heartbeat_interval_ms=500
    )
    return applied.watch(
        EventConsumer(
            name=group,
            kafka=kafka,
            sessions=runtime.sessions,
            tables=runtime.tables.plumbing,
            outbox=runtime.outbox,
            handlers={PersonAdmittedV1: nothing_more, PersonDischargedV1: nothing_more},
        )
    )


async def run_until(consumer: EventConsumer, done) -> None:
    task = asyncio.create_task(consumer.run())
    try:
        await eventually(done, timeout=60)
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)


async def test_old_topic_first_then_the_new_one_every_event_once(runtime, broker):
    group = f"search-move-{uuid.uuid4().hex[:8]}"
    persons = [uuid.uuid4() for _ in range(8)]

    # Before the move: the old layout's consumer (one topic per producer) applies
    # the first admissions, and stops, maybe before it committed their offsets.
    before = [await staged(broker, INTAKE_EVENTS.name, admitted(p)) for p in persons[:3]]
    old_layout = Applied()
    old = a_consumer(runtime, group, old_layout)
    old.topics, old.retired = [INTAKE_EVENTS], []
    await run_until(old, lambda: set(before) <= set(old_layout.ids))

    # Staged before the move, published after it: still on the old topic...
    backlog = [await staged(broker, INTAKE_EVENTS.name, admitted(p)) for p in persons[3:]]
    # ...while the new code already publishes on the successor: the same persons'
    # discharges, and new admissions.
    newer = [await staged(broker, INTAKE_STAYS.name, discharged(p)) for p in persons]
    newer += [await staged(broker, INTAKE_STAYS.name, admitted(uuid.uuid4())) for _ in range(3)]

    applied = Applied()
    moved = a_consumer(runtime, group, applied)
    assert [t.name for t in moved.topics] == [INTAKE_STAYS.name]
    assert [t.name for t in moved.retired] == [INTAKE_EVENTS.name]
    await run_until(moved, lambda: set(backlog + newer) <= set(applied.ids))

    ours = set(before + backlog + newer)
    once = [i for i in old_layout.ids + applied.ids if i in ours]
    assert Counter(once) == Counter(before + backlog + newer)  # every event once
    order = [i for i in applied.ids if i in set(backlog + newer)]
    assert set(order[: len(backlog)]) == set(backlog)  # the old topic's backlog first
    assert set(order[len(backlog) :]) == set(newer)
    for admission, discharge in zip(backlog, newer[3:8], strict=True):  # per person
        assert order.index(admission) < order.index(discharge)
    # what the old consumer applied and had not committed came again: a no-op
    assert all(set(applied.of(i)) <= {Outcome.DUPLICATE} for i in before)
    assert all(applied.of(i) == [Outcome.APPLIED] for i in backlog + newer)

    # Started again: nothing left on the retired topic, nothing applied twice.
    again = Applied()
    restarted = a_consumer(runtime, group, again)
    late = await staged(broker, INTAKE_STAYS.name, admitted(uuid.uuid4()))
    await run_until(restarted, lambda: late in again.ids)
    assert not set(again.ids) & ours


async def test_rows_reaching_the_retired_topic_late_are_drained_too(runtime, broker, monkeypatch):
    monkeypatch.setattr(consumer_module, "RETIRED_RECHECK_SECONDS", 0.5)
    group = f"search-late-{uuid.uuid4().hex[:8]}"
    applied = Applied()
    consumer = a_consumer(runtime, group, applied)
    task = asyncio.create_task(consumer.run())
    try:
        first = await staged(broker, INTAKE_STAYS.name, admitted(uuid.uuid4()))
        await eventually(lambda: first in applied.ids, timeout=60)
        # an outbox that sends a row staged before the move only now (the broker was away)
        person = uuid.uuid4()
        late = await staged(broker, INTAKE_EVENTS.name, admitted(person))
        await eventually(lambda: late in applied.ids, timeout=60)
        after = await staged(broker, INTAKE_STAYS.name, discharged(person))
        await eventually(lambda: after in applied.ids, timeout=60)
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
    mine = [i for i in applied.ids if i in {first, late, after}]
    assert Counter(mine) == Counter([first, late, after])
    assert mine.index(late) < mine.index(after)
