"""Draining a retired topic does not trust the broker's end offsets alone.

tansu (the local broker) answers a partition's end as its last record batch's
first offset + 1: twelve records sent as one batch end at "1". A group that has
applied part of that batch (its committed offset inside it) then looks caught up
while the rest is unread, and once a consumer moves to the new layout nothing
would ever read the retired topic again. These tests send one batch and read it
a few records at a time, on the real broker and Postgres."""

from __future__ import annotations

import asyncio
import uuid

import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.structs import OffsetAndMetadata
from support import eventually
from test_topic_migration import INTAKE, Applied, a_consumer, admitted, runtime  # noqa: F401

from rescue_events.contracts.topics import INTAKE_STAYS
from rescue_events.kafka import ensure_topics
from rescue_events.registry import Topic

pytestmark = pytest.mark.integration

BATCH = 12


async def a_retired_topic(runtime) -> Topic:  # noqa: F811
    """A retired topic of this test's own (one partition), so nothing else is on it."""
    topic = Topic(
        name=f"rescue.test.retired-{uuid.uuid4().hex[:8]}",
        partitions=1,
        description="retired in this test",
        successors=(INTAKE_STAYS.name,),
    )
    await ensure_topics(runtime.relay.kafka, [topic])
    return topic


async def one_batch(broker, topic: Topic, count: int) -> tuple[list[str], int]:
    """``count`` admissions sent as one record batch to ``topic``: their ids and the
    batch's first offset."""
    producer = AIOKafkaProducer(
        bootstrap_servers=broker.bootstrap_servers, acks="all", linger_ms=200
    )
    await producer.start()
    try:
        ids, sent = [], []
        for _ in range(count):
            event = admitted(uuid.uuid4())
            envelope, _ = INTAKE.envelope_for(event)
            ids.append(envelope.id)
            sent.append(
                await producer.send(
                    topic.name,
                    value=event.model_dump_json().encode(),
                    key=str(event.person_id).encode(),
                    headers=[(n, v.encode()) for n, v in envelope.to_headers()],
                )
            )
        first = (await asyncio.gather(*sent))[0].offset
    finally:
        await producer.stop()
    return ids, first


async def commit(broker, group: str, offsets: dict[TopicPartition, int]) -> None:
    """The group's committed offsets, as a member that applied that far left them."""
    member = AIOKafkaConsumer(
        bootstrap_servers=broker.bootstrap_servers, group_id=group, enable_auto_commit=False
    )
    await member.start()
    try:
        member.assign(list(offsets))
        await member.commit({tp: OffsetAndMetadata(at, "") for tp, at in offsets.items()})
    finally:
        await member.stop()


async def drain(runtime, topic, group: str, expected: list[str], applied: Applied) -> None:  # noqa: F811
    consumer = a_consumer(runtime, group, applied)
    consumer.retired = [topic]
    consumer.max_batch = 5  # a batch of 12 is read in three slices
    task = asyncio.create_task(consumer.run())
    try:
        await eventually(lambda: set(expected) <= set(applied.ids), timeout=60)
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)


async def test_a_batch_read_in_slices_is_drained_to_its_last_record(runtime, broker):  # noqa: F811
    topic = await a_retired_topic(runtime)
    ids, _ = await one_batch(broker, topic, BATCH)
    applied = Applied()
    await drain(runtime, topic, f"search-slices-{uuid.uuid4().hex[:8]}", ids, applied)
    assert [applied.ids.count(i) for i in ids] == [1] * BATCH


async def test_a_group_stopped_inside_a_batch_still_drains_the_rest(runtime, broker):  # noqa: F811
    topic = await a_retired_topic(runtime)
    ids, first = await one_batch(broker, topic, BATCH)
    group = f"search-inside-{uuid.uuid4().hex[:8]}"
    # the old layout's consumer applied the first five and committed there
    await commit(broker, group, {TopicPartition(topic.name, 0): first + 5})
    applied = Applied()
    await drain(runtime, topic, group, ids[5:], applied)
    assert [applied.ids.count(i) for i in ids[5:]] == [1] * (BATCH - 5)
    assert not set(applied.ids) & set(ids[:5])  # committed: not read again
