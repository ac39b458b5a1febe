"""Benchmark of the event pipeline on the real embedded Postgres and tansu broker.

Prints, for one run on this machine:
- commit → consumer-effect latency (p50, p99, max) at a steady rate: a
  business transaction commits an outbox row; the relay (woken by NOTIFY)
  publishes it; a consumer applies it in its own transaction with its inbox row;
- relay throughput: a backlog of outbox rows drained to acks=all.

    make bench            # defaults
    python bench/event_pipeline.py --events 2000 --rate 200 --backlog 20000
    python bench/event_pipeline.py --rate 20 --events 600 --fetch-wait-ms 500,50
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import statistics
import tempfile
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path

from common import comma_list, emit, percentile, verdict
from sqlalchemy import func, insert, select

from rescue_chassis import migrations
from rescue_chassis.app import build_runtime
from rescue_events.consumer import EventConsumer
from rescue_events.contracts import PersonAdmittedV1
from rescue_events.kafka import KafkaSettings
from rescue_localnet.broker import TansuBroker, free_port
from rescue_localnet.postgres import EmbeddedPostgres
from search.app import service
from search.settings import SearchSettings

RELAY_TARGET = 5_000  # events/s, issue 11


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


async def measure_latency(runtime, events: int, rate: float, fetch_wait_ms: int) -> list[float]:
    committed: dict[uuid.UUID, float] = {}
    latencies: list[float] = []
    done = asyncio.Event()

    seen = [0]

    async def record(session, event, envelope):
        seen[0] += 1
        started = committed.get(event.person_id)
        if started is not None:
            latencies.append(time.perf_counter() - started)
            if len(latencies) == events:
                done.set()

    consumer = EventConsumer(
        name=f"bench-{uuid.uuid4().hex[:6]}",
        kafka=dataclasses.replace(runtime.relay.kafka, fetch_max_wait_ms=fetch_wait_ms),
        sessions=runtime.sessions,
        tables=runtime.tables.plumbing,
        outbox=runtime.outbox,
        handlers={PersonAdmittedV1: record},
    )
    tasks = [asyncio.create_task(runtime.relay.run()), asyncio.create_task(consumer.run())]
    # Warm up: the group join takes about half the session timeout, and a new
    # group starts at the earliest offset: wait until it has caught up.
    await _commit_one(runtime, admission(), committed, track=False)
    while not consumer.connected or not runtime.relay.connected:  # noqa: ASYNC110 - flags
        await asyncio.sleep(0.05)
    before = -1
    while seen[0] != before or seen[0] == 0:
        before = seen[0]
        await asyncio.sleep(1.0)

    interval = 1 / rate
    start = time.perf_counter()
    for i in range(events):
        await _commit_one(runtime, admission(), committed)
        delay = start + (i + 1) * interval - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
    await asyncio.wait_for(done.wait(), timeout=60)
    for task in tasks:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)
    return latencies


async def _commit_one(runtime, event, committed, track=True) -> None:
    async with runtime.sessions() as session:
        await runtime.outbox.stage(session, event)
        await session.commit()
    if track:
        committed[event.person_id] = time.perf_counter()


async def measure_relay(runtime, backlog: int) -> float:
    outbox = runtime.tables.plumbing.outbox
    template = admission()
    envelope, topic = runtime.outbox.envelope_for(template)
    rows = [
        dict(
            event_id=str(uuid.uuid4()),
            topic=topic,
            message_key=str(uuid.uuid4()),
            headers=[list(h) for h in envelope.to_headers()],
            payload=template.model_dump_json().encode(),
            trace_context={},
        )
        for _ in range(backlog)
    ]
    async with runtime.sessions() as session:
        for chunk in range(0, backlog, 2000):
            await session.execute(insert(outbox), rows[chunk : chunk + 2000])
        await session.commit()
    start = time.perf_counter()
    task = asyncio.create_task(runtime.relay.run())
    while True:
        async with runtime.sessions() as session:
            # Published rows stay (the outbox retention): count those still to send.
            left = await session.scalar(
                select(func.count()).select_from(outbox).where(outbox.c.published_at.is_(None))
            )
        if left == 0:
            break
        await asyncio.sleep(0.02)
    elapsed = time.perf_counter() - start
    task.cancel()
    await asyncio.gather(task, return_exceptions=True)
    return backlog / elapsed


async def main(args) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        postgres = EmbeddedPostgres(Path(tmp) / "pg")
        broker = TansuBroker(free_port(), Path(tmp) / "broker.log")
        postgres.start()
        broker.start()
        try:
            await postgres.create_databases(["bench"])
            url = postgres.sqlalchemy_url("bench")
            await asyncio.to_thread(migrations.upgrade, service.migrations_dir, url)
            settings = SearchSettings(
                database_url=url,
                kafka_bootstrap_servers=broker.bootstrap_servers,
                jwt_secret="bench-" + "x" * 40,
            )
            runtime = build_runtime(service, settings)
            for fetch_wait in args.fetch_wait_ms:
                latencies = await measure_latency(runtime, args.events, args.rate, fetch_wait)
                ms = [x * 1000 for x in latencies]
                print(
                    f"commit→consumer effect, {args.events} events at {args.rate:g}/s, "
                    f"fetch wait {fetch_wait} ms: p50 {statistics.median(ms):.1f} ms, "
                    f"p99 {percentile(ms, 0.99):.1f} ms, max {max(ms):.1f} ms",
                    flush=True,
                )
            relay_rates = [await measure_relay(runtime, args.backlog) for _ in range(3)]
            relay_median = statistics.median(relay_rates)
            print(
                f"relay drain of {args.backlog} outbox rows (acks=all), 3 runs: "
                f"median {relay_median:,.0f} events/s "
                f"(runs: {', '.join(f'{r:,.0f}' for r in relay_rates)}); "
                f"target ≥ {RELAY_TARGET:,} events/s: "
                f"{verdict(relay_median, RELAY_TARGET, at_most=False)}"
            )
            emit(
                {
                    "relay_events_per_second": relay_median,
                    "relay_runs": relay_rates,
                    "relay_target": RELAY_TARGET,
                }
            )
            await runtime.engine.dispose()
        finally:
            broker.stop()
            postgres.stop()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--events", type=int, default=2000)
    parser.add_argument("--rate", type=float, default=200.0)
    parser.add_argument("--backlog", type=int, default=20000)
    parser.add_argument(
        "--fetch-wait-ms",
        type=comma_list(int),
        default=[KafkaSettings.fetch_max_wait_ms],
        help="consumer fetch waits to compare in one run, e.g. 500,50",
    )
    asyncio.run(main(parser.parse_args()))
