"""Rebuilding the read model from the events alone: forget every fact and every
inbox row, then read each topic the consumer reads from its beginning to at least
its end as it was when the rebuild began, and apply every record through the
consumer's own path (inbox, handlers, dead letters).

The live consumer goes on meanwhile: an event it applies after the clearing is in
the inbox, so the rebuild skips it, and one the rebuild applies first, it skips.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from datetime import UTC, datetime

from aiokafka import AIOKafkaConsumer, TopicPartition
from sqlalchemy import update

from rescue_chassis.runtime import Runtime
from rescue_events.kafka import ensure_topics
from summary import statements
from summary.tables import Rebuild

log = logging.getLogger(__name__)

_running: dict[uuid.UUID, asyncio.Task] = {}
# More than one producer batch (the relays send at most relay_batch_size records).
BEYOND_THE_END = 1000


async def replay(runtime: Runtime, rebuild_id: uuid.UUID) -> int:
    """Clear and replay; the number of records read. Progress goes on the rebuild's row."""
    consumer = runtime.consumer
    assert consumer is not None, "the summary has a consumer"
    async with runtime.sessions() as session, session.begin():
        await statements.clear(session, consumer.name)
    await ensure_topics(consumer.kafka, consumer.topics)
    reader = AIOKafkaConsumer(
        bootstrap_servers=consumer.kafka.bootstrap_servers,
        client_id=f"{consumer.kafka.client_id}-rebuild",
        group_id=None,  # no group: offsets of its own, from the beginning
        enable_auto_commit=False,
        max_poll_records=500,
    )
    await reader.start()
    read = 0
    try:
        partitions = []
        for topic in consumer.topics:
            found = reader.partitions_for_topic(topic.name)
            for _ in range(50):
                if found:
                    break
                await reader._client.force_metadata_update()
                found = reader.partitions_for_topic(topic.name)
                await asyncio.sleep(0.1)
            partitions += [TopicPartition(topic.name, p) for p in sorted(found or ())]
        reader.assign(partitions)
        await reader.seek_to_beginning(*partitions)
        ends = await reader.end_offsets(partitions)
        left = {tp for tp in partitions if await reader.position(tp) < ends[tp]}
        while left:
            batches = await reader.getmany(*left, timeout_ms=1000, max_records=500)
            records = [record for batch in batches.values() for record in batch]
            if records:
                await consumer.handle_batch(records)
                read += len(records)
                await _progress(runtime, rebuild_id, records_read=read)
            # Past the end too, while records come, up to a batch beyond: a broker may
            # state the end as its last batch's first offset (tansu does). What the live
            # consumer applies as well, the inbox applies once.
            left = {
                tp
                for tp in left
                if (position := await reader.position(tp)) < ends[tp]
                or (batches.get(tp) and position < ends[tp] + BEYOND_THE_END)
            }
    finally:
        await reader.stop()
    return read


async def run(runtime: Runtime, rebuild_id: uuid.UUID) -> None:
    """The whole rebuild, its outcome on its row."""
    try:
        read = await replay(runtime, rebuild_id)
        async with runtime.sessions() as session:
            facts = await statements.count_facts(session)
        await _progress(
            runtime,
            rebuild_id,
            status="done",
            records_read=read,
            facts=facts,
            finished_at=datetime.now(UTC),
        )
        log.info("summary rebuilt from %d records: %d facts", read, facts)
    except Exception as error:
        log.exception("summary rebuild %s failed", rebuild_id)
        await _progress(
            runtime,
            rebuild_id,
            status="failed",
            error=f"{type(error).__name__}: {error}"[:500],
            finished_at=datetime.now(UTC),
        )


def launch(runtime: Runtime, rebuild_id: uuid.UUID) -> None:
    """Run the rebuild in the background of this process."""
    task = asyncio.create_task(run(runtime, rebuild_id), name=f"rebuild-{rebuild_id}")
    _running[rebuild_id] = task
    task.add_done_callback(lambda _: _running.pop(rebuild_id, None))


def running() -> bool:
    return bool(_running)


async def _progress(runtime: Runtime, rebuild_id: uuid.UUID, **values) -> None:
    async with runtime.sessions() as session, session.begin():
        await session.execute(update(Rebuild).where(Rebuild.id == rebuild_id).values(**values))
