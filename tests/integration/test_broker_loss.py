"""Nothing lost when the broker loses its data (issue 23), on the real embedded
Postgres and a real tansu broker of the test's own, killed and started again
empty (a new cluster id, as a newly formatted Kafka cluster has):

- the relay keeps published events (published_at, published_to) and sends again
  those the new broker does not have; the consumer starts over (its group and
  offsets are gone) and its inbox applies each event once;
- re-publishing by hand since a moment; the purge after the retention;
- an offset commit that never completes makes the consumer start over instead
  of stalling.
"""

from __future__ import annotations

import asyncio
import dataclasses
import uuid
from datetime import UTC, datetime

import pytest
from sqlalchemy import func, select, text
from support import JWT_SECRET, eventually, migrated_database, read_topic

from rescue_chassis.app import build_runtime
from rescue_events.consumer import EventConsumer, Outcome
from rescue_events.contracts import PersonAdmittedV1
from rescue_events.contracts.topics import INTAKE_STAYS
from rescue_localnet.broker import TansuBroker, free_port
from search.app import service as search_service
from search.handlers import handlers as search_handlers
from search.settings import SearchSettings
from search.tables import SearchCase

pytestmark = pytest.mark.integration


def admission() -> PersonAdmittedV1:
    now = datetime.now(UTC)
    return PersonAdmittedV1(
        person_id=uuid.uuid4(),
        station_id="gushi",
        arrived_at=now,
        admitted_at=now,
        arrival_route="own_request",
        identity_status="unknown",
        sex="male",
    )


@pytest.fixture
async def own_broker(tmp_path):
    broker = TansuBroker(free_port(), tmp_path / "broker.log")
    broker.start()
    yield broker
    broker.stop()


@pytest.fixture
async def runtime(postgres, own_broker):
    url = await migrated_database(postgres, search_service.migrations_dir)
    settings = SearchSettings(
        database_url=url,
        kafka_bootstrap_servers=own_broker.bootstrap_servers,
        jwt_secret=JWT_SECRET,
    )
    runtime = build_runtime(search_service, settings)
    yield runtime
    await runtime.engine.dispose()


@pytest.fixture
async def background():
    tasks: list[asyncio.Task] = []
    yield tasks
    for task in tasks:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)


async def stage(runtime, events) -> None:
    async with runtime.sessions() as session:
        for event in events:
            await runtime.outbox.stage(session, event)
        await session.commit()


async def scalar(runtime, sql: str, **params):
    async with runtime.sessions() as session:
        return (await session.execute(text(sql), params)).scalar()


async def cases(runtime, people) -> dict[uuid.UUID, int]:
    async with runtime.sessions() as session:
        rows = (
            await session.execute(
                select(SearchCase.person_id, func.count())
                .where(SearchCase.person_id.in_(people))
                .group_by(SearchCase.person_id)
            )
        ).all()
    return dict(rows)


def a_consumer(runtime, **kafka) -> EventConsumer:
    # a group join waits about half the session timeout: 1 s here, not 3 s per join
    quick_joins = {"session_timeout_ms": 2000, "heartbeat_interval_ms": 500}
    return EventConsumer(
        name=f"search-loss-{uuid.uuid4().hex[:8]}",
        kafka=dataclasses.replace(runtime.relay.kafka, **{**quick_joins, **kafka}),
        sessions=runtime.sessions,
        tables=runtime.tables.plumbing,
        outbox=runtime.outbox,
        handlers=search_handlers(runtime),
    )


@pytest.mark.parametrize(
    "down_for",
    [0.0, 6.0],
    ids=["restarted-at-once", "down-longer-than-a-commit-may-take"],
)
async def test_a_broker_back_empty_gets_every_event_again_and_each_is_applied_once(
    runtime, own_broker, background, down_for
):
    relay = runtime.relay
    # Commits bounded at 2 s: down longer, the consumer gives up its client while
    # the broker is away (whose stop, then, must not keep it waiting).
    consumer = a_consumer(runtime, request_timeout_ms=2000, offset_commit_interval_ms=200)
    background += [asyncio.create_task(relay.run()), asyncio.create_task(consumer.run())]
    before = [admission() for _ in range(5)]
    await stage(runtime, before)
    people = [e.person_id for e in before]
    await eventually(lambda: _all_once(runtime, people), timeout=40)
    first_cluster = own_broker.cluster_id
    # (search's own events, staged by the handler, follow them out)
    await eventually(lambda: _is(scalar(runtime, _UNPUBLISHED), 0), timeout=30)
    kept = await scalar(
        runtime, "select count(*) from outbox where published_to = :c", c=first_cluster
    )
    assert kept >= 5  # published, and kept for the retention window

    own_broker.stop()  # memory storage: every record, topic and offset gone
    await eventually(lambda: not relay.connected and not consumer.connected, timeout=10)
    during = [admission() for _ in range(3)]
    await stage(runtime, during)  # waits in the outbox
    await asyncio.sleep(down_for)
    own_broker.start()  # empty, another cluster
    assert own_broker.cluster_id != first_cluster
    after = [admission() for _ in range(3)]
    await stage(runtime, after)

    people += [e.person_id for e in during + after]
    await eventually(lambda: _all_once(runtime, people), timeout=60)
    # Everything kept went out again, to the new cluster; nothing waits.
    await eventually(
        lambda: _is(
            scalar(
                runtime,
                "select count(*) from outbox where published_at is null or published_to <> :c",
                c=own_broker.cluster_id,
            ),
            0,
        ),
        timeout=30,
    )
    again = relay.republications[0]
    assert again.rows >= 5 and own_broker.cluster_id in again.reason
    # The new broker holds every admission, the old ones included.
    records = await read_topic(
        own_broker.bootstrap_servers,
        INTAKE_STAYS.name,
        until=lambda rs: {str(p).encode() for p in people} <= {r.key for r in rs},
        timeout=30,
    )
    assert records
    # the consumer's watch notices the new cluster on its own schedule: it restarts
    await eventually(lambda: consumer.restarts >= 1, timeout=30)
    await asyncio.sleep(2)  # late duplicates would show now
    assert set((await cases(runtime, people)).values()) == {1}
    try:
        await eventually(lambda: _no_lag(consumer), timeout=30)
    except AssertionError:
        raise AssertionError(f"lag: {getattr(_no_lag, 'last', None)}") from None


async def test_republish_by_hand_sends_again_what_was_published_since(
    runtime, own_broker, background
):
    relay = runtime.relay
    background.append(asyncio.create_task(relay.run()))
    old = [admission() for _ in range(2)]
    await stage(runtime, old)
    await eventually(lambda: _is(scalar(runtime, _UNPUBLISHED), 0), timeout=30)
    since = datetime.now(UTC)
    recent = [admission() for _ in range(3)]
    await stage(runtime, recent)
    await eventually(lambda: _is(scalar(runtime, _UNPUBLISHED), 0), timeout=30)

    done = await relay.republish(since, [INTAKE_STAYS.name], reason="by ops: test")
    assert done.rows == 3 and done.topics == {INTAKE_STAYS.name: 3}

    keys = [str(e.person_id).encode() for e in recent]
    records = await read_topic(
        own_broker.bootstrap_servers,
        INTAKE_STAYS.name,
        until=lambda rs: all(sum(r.key == k for r in rs) == 2 for k in keys),
        timeout=30,
    )
    for event in old:  # published before: sent once
        assert sum(r.key == str(event.person_id).encode() for r in records) == 1


async def test_published_events_are_kept_for_the_retention_then_purged(
    runtime, own_broker, background
):
    relay = runtime.relay
    relay.retention_seconds = 1.0
    relay.purge_interval_seconds = 0.2
    background.append(asyncio.create_task(relay.run()))
    await stage(runtime, [admission() for _ in range(4)])
    await eventually(lambda: _is(scalar(runtime, _UNPUBLISHED), 0), timeout=30)
    assert await scalar(runtime, "select count(*) from outbox") == 4  # kept …
    await eventually(lambda: _is(scalar(runtime, "select count(*) from outbox"), 0), timeout=20)


async def test_an_offset_commit_that_never_completes_does_not_stall_the_consumer(
    runtime, own_broker, background
):
    """As after a broker restart that kept its cluster id: the client retries
    UnknownTopicOrPartition forever. Bounded, the consumer starts over."""
    consumer = a_consumer(runtime, request_timeout_ms=1500, offset_commit_interval_ms=100)
    hung = []
    new_kafka_consumer = consumer._new_kafka_consumer

    def hanging_once():
        kafka_consumer = new_kafka_consumer()
        if not hung:
            commit = kafka_consumer.commit

            async def never(offsets=None):
                hung.append(offsets)
                await asyncio.Event().wait()
                return await commit(offsets)

            kafka_consumer.commit = never
        return kafka_consumer

    consumer._new_kafka_consumer = hanging_once
    seen: list[Outcome] = []
    handle_batch = consumer.handle_batch

    async def recording(records):
        outcomes = await handle_batch(records)
        seen.extend(outcomes)
        return outcomes

    consumer.handle_batch = recording
    background += [asyncio.create_task(runtime.relay.run()), asyncio.create_task(consumer.run())]
    first = admission()
    await stage(runtime, [first])
    await eventually(lambda: hung, timeout=40)  # applied, then its commit hangs
    await eventually(lambda: consumer.restarts >= 1, timeout=20)
    second = admission()
    await stage(runtime, [second])
    await eventually(lambda: _all_once(runtime, [first.person_id, second.person_id]), timeout=40)
    await eventually(lambda: _no_lag(consumer), timeout=30)


_UNPUBLISHED = "select count(*) from outbox where published_at is null"


async def _is(awaitable, expected) -> bool:
    return await awaitable == expected


async def _all_once(runtime, people) -> bool:
    found = await cases(runtime, people)
    return len(found) == len(people) and set(found.values()) == {1}


async def _no_lag(consumer) -> bool | list:
    try:
        lags = await consumer.lag()
    except ConnectionError:
        return False
    if lags and all(p.lag == 0 for p in lags):
        return True
    _no_lag.last = lags  # for the failure's message
    return False
