"""The local broker's hop: how long a record waits between the producer and a
consumer that is already waiting for it, by the consumer's ``fetch_max_wait_ms``.

Apache Kafka answers a waiting fetch as soon as data arrives, so the hop costs
about one round trip whatever the wait. tansu (the local broker, memory storage)
does not: a fetch that found nothing sleeps out its wait before it answers, so a
record published meanwhile waits for the next fetch. The hop is then a wait of
its own, up to about half the fetch wait on this machine, and it is part of
every event's way from one service to the next (end_to_end.py's "relay →
followup"). A shorter wait shortens it and makes every idle consumer ask more
often; this prints both sides:

- the hop, p50/p99/max, of records produced at random moments (5–30 ms apart)
  to one idle consumer, measured from the producer's timestamp on the record
  to the consumer's hand-over (same machine clock), per wait;
- the broker's and the clients' CPU while ``--consumers`` idle consumers (each
  reading ``--topics`` topics of ``--partitions`` partitions, as a service's
  consumer does) do nothing but poll, per wait.

Nothing else runs: the figures are the broker's own, a floor under the
end-to-end latency, not what a loaded machine adds to it.

    python bench/broker_hop.py                          # waits 10, 20, 50, 100 ms
    python bench/broker_hop.py --waits 50 --records 300
"""

from __future__ import annotations

import argparse
import asyncio
import random
import tempfile
import time
import uuid
from pathlib import Path

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from common import comma_list, cpu_seconds, emit, latency_summary, out

from rescue_events.kafka import KafkaSettings
from rescue_localnet.broker import TansuBroker, free_port

# The services' consumer settings (rescue_events.kafka), but for the wait.
DEFAULTS = KafkaSettings(bootstrap_servers="", client_id="bench")


async def new_topics(bootstrap: str, count: int, partitions: int) -> list[str]:
    names = [f"hop-{uuid.uuid4().hex[:8]}" for _ in range(count)]
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        await admin.create_topics([NewTopic(name, partitions, 1) for name in names])
    finally:
        await admin.close()
    return names


def a_consumer(bootstrap: str, topics: list[str], wait_ms: int) -> AIOKafkaConsumer:
    return AIOKafkaConsumer(
        *topics,
        bootstrap_servers=bootstrap,
        group_id=f"hop-{uuid.uuid4().hex[:8]}",
        enable_auto_commit=False,
        auto_offset_reset="earliest",
        fetch_max_wait_ms=wait_ms,
        session_timeout_ms=DEFAULTS.session_timeout_ms,
        heartbeat_interval_ms=DEFAULTS.heartbeat_interval_ms,
    )


async def hop_ms(bootstrap: str, wait_ms: int, records: int, partitions: int) -> list[float]:
    """Producer's timestamp → consumer's hand-over of each record, in ms."""
    (topic,) = await new_topics(bootstrap, 1, partitions)
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all")
    consumer = a_consumer(bootstrap, [topic], wait_ms)
    await producer.start()
    await consumer.start()
    try:
        # Joined and reading before the first measured record is sent.
        await producer.send_and_wait(topic, b"warm-up", key=b"warm-up")
        await consumer.getone()
        hops: list[float] = []

        async def read() -> None:
            while len(hops) < records:
                record = await consumer.getone()
                hops.append(time.time() * 1000 - record.timestamp)

        reader = asyncio.create_task(read())
        for i in range(records):
            await asyncio.sleep(random.uniform(0.005, 0.030))
            await producer.send(topic, b"x", key=str(i).encode())
        await asyncio.wait_for(reader, timeout=60)
        return hops
    finally:
        await producer.stop()
        await consumer.stop()


async def idle_cores(
    broker: TansuBroker, wait_ms: int, consumers: int, topics: int, partitions: int, seconds: float
) -> tuple[float, float]:
    """Cores the broker and the consumers' clients use while the consumers only poll."""
    bootstrap = broker.bootstrap_servers
    names = await new_topics(bootstrap, topics, partitions)
    members = [a_consumer(bootstrap, names, wait_ms) for _ in range(consumers)]
    for member in members:
        await member.start()

    async def poll(member: AIOKafkaConsumer) -> None:
        while True:
            await member.getmany(timeout_ms=1000)

    polling = [asyncio.create_task(poll(member)) for member in members]
    try:
        await asyncio.sleep(3)  # the groups joined, the fetches going
        assert broker.process is not None
        broker_before, own_before = cpu_seconds(broker.process.pid), time.process_time()
        started = time.perf_counter()
        await asyncio.sleep(seconds)
        wall = time.perf_counter() - started
        return (
            (cpu_seconds(broker.process.pid) - broker_before) / wall,
            (time.process_time() - own_before) / wall,
        )
    finally:
        for task in polling:
            task.cancel()
        await asyncio.gather(*polling, return_exceptions=True)
        for member in members:
            await member.stop()


async def measure(broker: TansuBroker, args) -> list[dict]:
    runs = []
    for wait_ms in args.waits:
        hops = latency_summary(
            await hop_ms(broker.bootstrap_servers, wait_ms, args.records, args.partitions)
        )
        broker_cores, client_cores = await idle_cores(
            broker, wait_ms, args.consumers, args.topics, args.partitions, args.seconds
        )
        out(
            f"fetch wait {wait_ms:4d} ms: hop p50 {hops['p50']:5.1f} ms, "
            f"p99 {hops['p99']:5.1f} ms, max {hops['max']:5.1f} ms; "
            f"{args.consumers} idle consumers: broker "
            f"{broker_cores:.3f} cores, clients {client_cores:.3f} cores"
        )
        runs.append(
            {
                "fetch_wait_ms": wait_ms,
                **{f"hop_{k}_ms": v for k, v in hops.items()},
                "idle_broker_cores": broker_cores,
                "idle_client_cores": client_cores,
            }
        )
    return runs


def main(args) -> dict:
    with tempfile.TemporaryDirectory() as tmp:
        broker = TansuBroker(free_port(), Path(tmp) / "tansu.log")
        broker.start()
        try:
            out(
                f"tansu alone; hop over {args.records} records, idle load of {args.consumers} "
                f"consumers × {args.topics} topics × {args.partitions} partitions"
            )
            runs = asyncio.run(measure(broker, args))
        finally:
            broker.stop()
    out(f"  (the services' consumers wait {DEFAULTS.fetch_max_wait_ms} ms: KafkaSettings)")
    results = {"services_fetch_wait_ms": DEFAULTS.fetch_max_wait_ms, "runs": runs}
    emit(results)
    return results


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--waits",
        type=comma_list(int),
        default=[10, 20, 50, 100],
        help="fetch_max_wait_ms values, in ms",
    )
    parser.add_argument("--records", type=int, default=200)
    parser.add_argument("--partitions", type=int, default=6)
    parser.add_argument("--consumers", type=int, default=5, help="one per service")
    parser.add_argument("--topics", type=int, default=3, help="topics each consumer reads")
    parser.add_argument("--seconds", type=float, default=5.0)
    main(parser.parse_args())
