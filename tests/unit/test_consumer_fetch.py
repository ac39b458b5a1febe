"""One fetch's handling, shared by the live loop and the drain of retired topics
(rescue_events.consumer), on a stand-in Kafka client; and the topic table's rows."""

from __future__ import annotations

from unittest.mock import MagicMock

import pytest
from aiokafka import TopicPartition

from rescue_events.consumer import EventConsumer, ReceivedRecord, _PendingOffsets
from rescue_events.contracts import topics
from rescue_events.kafka import KafkaSettings
from rescue_events.registry import Topic


def record(topic: str, partition: int, offset: int) -> ReceivedRecord:
    return ReceivedRecord(topic, partition, offset, None, None, ())


class FakeKafka:
    """Answers each getmany with the next of ``fetches``; records commits."""

    def __init__(self, *fetches: dict) -> None:
        self.fetches = list(fetches)
        self.asked: list[dict] = []
        self.commits: list[dict] = []
        self.subscribed: list[str] = []

    async def getmany(self, **asked):
        self.asked.append(asked)
        return self.fetches.pop(0) if self.fetches else {}

    async def commit(self, offsets):
        self.commits.append(dict(offsets))

    async def start(self):
        pass

    async def stop(self):
        pass

    def subscribe(self, names, listener):
        self.subscribed = list(names)
        self.listener = listener

    async def join(self):
        """The group coordinator's answer: this member's partitions."""
        await self.listener.on_partitions_assigned(set())


def a_consumer(batches: list[list[ReceivedRecord]]) -> EventConsumer:
    consumer = EventConsumer(
        name="search-test",
        kafka=KafkaSettings(bootstrap_servers="localhost:1", client_id="test"),
        sessions=MagicMock(),
        tables=MagicMock(),
        outbox=MagicMock(),
        handlers={},
        max_batch=7,
    )

    async def handle_batch(records):
        batches.append(list(records))
        return []

    consumer.handle_batch = handle_batch
    return consumer


A0, A1 = TopicPartition("rescue.intake.stays", 0), TopicPartition("rescue.intake.stays", 1)


async def test_a_fetch_is_applied_in_partition_order_and_then_its_offsets_are_pending():
    applied: list[list[ReceivedRecord]] = []
    consumer = a_consumer(applied)
    fetch = {
        A0: [record(A0.topic, 0, 4), record(A0.topic, 0, 5)],
        A1: [record(A1.topic, 1, 9)],
    }
    kafka = FakeKafka(fetch)
    offsets = _PendingOffsets(kafka, 60.0, timeout=1.0)
    await consumer._apply_fetch(kafka, offsets, timeout_ms=321)
    assert kafka.asked == [{"timeout_ms": 321, "max_records": 7}]
    assert [[r.offset for r in batch] for batch in applied] == [[4, 5, 9]]
    assert offsets.pending == {A0: 6, A1: 10}  # the next offset to read, per partition
    assert kafka.commits == []  # committing is the caller's: the interval or the drain


async def test_an_empty_fetch_applies_nothing_and_moves_no_offset():
    applied: list[list[ReceivedRecord]] = []
    consumer = a_consumer(applied)
    kafka = FakeKafka({})
    offsets = _PendingOffsets(kafka, 60.0, timeout=1.0)
    await consumer._apply_fetch(kafka, offsets, timeout_ms=100)
    assert applied == [] and offsets.pending == {}


async def test_a_batch_that_fails_leaves_its_offsets_where_they_were():
    consumer = a_consumer([])

    async def broken(records):
        raise RuntimeError("database gone")

    consumer.handle_batch = broken
    kafka = FakeKafka({A0: [record(A0.topic, 0, 4)]})
    offsets = _PendingOffsets(kafka, 60.0, timeout=1.0)
    with pytest.raises(RuntimeError):
        await consumer._apply_fetch(kafka, offsets, timeout_ms=100)
    assert offsets.pending == {}  # read again after the restart; the inbox skips what was applied


async def test_the_drain_commits_after_every_fetch_until_its_fetches_and_the_lag_are_empty(
    monkeypatch,
):
    applied: list[list[ReceivedRecord]] = []
    consumer = a_consumer(applied)
    retired = Topic("rescue.intake.events", 1, "retired", successors=("rescue.intake.stays",))
    old = TopicPartition(retired.name, 0)
    # an empty fetch before the member joined, the two records, then nothing left
    kafka = FakeKafka({}, {old: [record(old.topic, 0, 0)]}, {old: [record(old.topic, 0, 1)]})
    lags = [0]  # as tansu may say inside a partition's last batch: not trusted alone

    async def backlog(topics):
        return 2

    async def lag(client, topics):
        return lags.pop(0)

    getmany = kafka.getmany

    async def joining_getmany(**asked):
        if len(kafka.asked) == 1:  # the second fetch: the group has answered
            await kafka.join()
        return await getmany(**asked)

    kafka.getmany = joining_getmany

    monkeypatch.setattr(consumer, "_retired_on_broker", lambda: [retired])
    monkeypatch.setattr(consumer, "_retired_backlog", backlog)
    monkeypatch.setattr(consumer, "_retired_lag", lag)
    monkeypatch.setattr(consumer, "_new_kafka_consumer", lambda **_: kafka)
    await consumer._drain_retired()
    assert kafka.subscribed == [retired.name]
    assert [[r.offset for r in batch] for batch in applied] == [[0], [1]]
    assert kafka.commits == [{old: 1}, {old: 2}]  # the lag is read from committed offsets
    # done after two empty fetches since joining, and only then was the lag asked
    assert [a["timeout_ms"] for a in kafka.asked] == [500] * 5 and lags == []


def test_a_layout_row_names_its_readers_in_the_description():
    assert topics._listed(("search",)) == "search"
    assert topics._listed(("referral", "summary")) == "referral and summary"
    assert topics._listed(("intake", "followup", "summary")) == "intake, followup and summary"
    assert topics.INTAKE_INCIDENTS.description.endswith(" Read by referral and summary.")
    assert topics.INTAKE_RECORDS.audience and "Read by" not in topics.INTAKE_RECORDS.description


def test_a_layout_row_without_readers_or_audience_is_refused():
    with pytest.raises(ValueError, match="readers or its audience"):
        topics._layout_topic("rescue.test.unread", 3, (), None, (), "Nobody's.")
    assert "rescue.test.unread" not in topics.registry.topics


def test_each_service_writes_its_rows_and_its_retired_topic_names_them_in_order():
    assert [t.name for t in topics.REFERRAL_TOPICS] == [
        "rescue.referral.counted",
        "rescue.referral.records",
    ]
    assert topics.FOLLOWUP_EVENTS.successors == tuple(t.name for t in topics.FOLLOWUP_TOPICS)
    assert len(topics._LAYOUT) == 21 and all(not t.retired for t in topics._LIVE.values())
