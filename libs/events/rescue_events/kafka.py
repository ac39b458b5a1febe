"""Broker connections and explicit topic creation.

Topics are created from the registry at start-up, never by auto-create, so
partition counts are the ones we chose. Everything here targets Apache Kafka
semantics; the local tansu broker is just another Kafka-protocol peer.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterable
from dataclasses import dataclass

from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import KafkaError, TopicAlreadyExistsError

from rescue_events.registry import Topic

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class KafkaSettings:
    bootstrap_servers: str
    client_id: str
    topic_replication: int = 1
    # Apache Kafka's minimum session timeout; a group join waits about half of it.
    session_timeout_ms: int = 6000
    heartbeat_interval_ms: int = 2000
    request_timeout_ms: int = 10_000
    # How long a fetch may wait for data. Apache Kafka answers a waiting fetch as
    # soon as data comes, so there the wait only sets how often an idle consumer
    # asks. tansu (the local broker) does not: a record waits for the consumer's
    # next fetch, up to about half the wait (bench/broker_hop.py, tansu alone:
    # hop p50/p99 13/28 ms at 50 ms, 5/13 ms at 20 ms, 4/8 ms at 10 ms), and a
    # shorter wait makes every idle consumer ask more often (five consumers of
    # 18 partitions each: the broker 0.14 cores at 50 ms, 0.22 at 20, 0.89 at 10)
    # and every busy one apply smaller fetches. 50 ms: at 200 admissions/s a
    # 20 ms wait cost the network more CPU than its shorter hop saved (issue 11).
    fetch_max_wait_ms: int = 50
    # Offsets are committed after the database commit, at most this often: an
    # offset only bounds what a restarted or rebalanced consumer reads again, and
    # the inbox skips that. One commit per fetch cost about 0.4 ms of CPU (client
    # and broker) for each of the nine deliveries an admission makes.
    offset_commit_interval_ms: int = 500
    # The relay sends a whole sweep before awaiting acks, so records batch
    # without lingering.
    linger_ms: int = 0
    # A partition's records go in one batch per produce request, and the producer
    # has one request in flight per broker: with aiokafka's 16 KiB batches (about
    # ten person_admitted) a sweep of 400 events took some 40 round trips, near a
    # second at 200 admissions/s. A sweep (≤ 500 rows) fits one batch here. The
    # batch stays under Apache Kafka's default message.max.bytes (1 MiB).
    producer_batch_bytes: int = 960 * 1024
    # One request carries a batch for each partition the sweep touched.
    producer_request_bytes: int = 8 * 1024 * 1024


async def ensure_topics(settings: KafkaSettings, topics: Iterable[Topic]) -> list[str]:
    """Create the topics that are missing; returns the names it created."""
    wanted = {t.name: t for t in topics}
    admin = AIOKafkaAdminClient(
        bootstrap_servers=settings.bootstrap_servers,
        client_id=f"{settings.client_id}-admin",
        request_timeout_ms=settings.request_timeout_ms,
    )
    await admin.start()
    try:
        existing = set(await admin.list_topics())
        missing = [t for name, t in wanted.items() if name not in existing]
        if not missing:
            return []
        response = await admin.create_topics(
            [NewTopic(t.name, t.partitions, settings.topic_replication) for t in missing]
        )
        for name, code, *_ in getattr(response, "topic_errors", []):
            if code not in (0, TopicAlreadyExistsError.errno):
                raise KafkaError(f"could not create topic {name}: error code {code}")
        created = [t.name for t in missing]
        log.info("created topics", extra={"topics": created})
        return created
    finally:
        await admin.close()


async def backoff_delays(initial: float = 0.2, maximum: float = 5.0):
    """Yields forever, sleeping a little longer each time (capped)."""
    delay = initial
    while True:
        yield delay
        await asyncio.sleep(delay)
        delay = min(delay * 2, maximum)
