"""CPU per event of each service's consumer applying person_admitted.

The four services that react to an admission (search, transfer, referral,
followup) each apply it in their consumer. This measures that step alone, in
this process, with the service's real handlers on its real, migrated database
(embedded Postgres): ``EventConsumer.handle_batch`` over records built exactly as
the intake relay publishes them, in fetches of 1 and of 10 records.

Per event it prints the CPU of this process (the consumer's Python: envelope,
payload, inbox, handler, commit) and of Postgres (its backends), the two costs
an admission adds to each consumer service in the end-to-end benchmark. No
Kafka: fetching and committing offsets are not in these figures.

    python bench/consumer_cost.py                 # 600 events per service and batch size
    python bench/consumer_cost.py --events 200 --services followup,search
"""

from __future__ import annotations

import argparse
import asyncio
import os
import tempfile
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path

from common import children_of, comma_list, cpu_seconds, median, out

SERVICES = ("search", "transfer", "referral", "followup")
CATEGORIES = ((), (), (), ("elderly",), (), ("minor",), (), ("disabled",))


def admission_record(i: int, offset: int):
    from rescue_events.consumer import ReceivedRecord
    from rescue_events.contracts import PersonAdmittedV1
    from rescue_events.outbox import Outbox

    now = datetime.now(UTC)
    event = PersonAdmittedV1(
        person_id=uuid.uuid4(),
        station_id="gushi",
        arrived_at=now,
        admitted_at=now,
        arrival_route="own_request",
        identity_status="unknown",
        sex=("male", "female")[i % 2],
        estimated_age=20 + i % 60,
        dialect="四川话",
        categories=list(CATEGORIES[i % len(CATEGORIES)]),
        stay_id=uuid.uuid4(),
        stay_sequence=1,
    )
    envelope, topic = Outbox(None, source="/rescue-network/intake").envelope_for(event)
    return ReceivedRecord(
        topic=topic,
        partition=i % 16,
        offset=offset,
        key=str(event.person_id).encode(),
        value=event.model_dump_json().encode(),
        headers=[(n, v.encode()) for n, v in envelope.to_headers()],
    )


def service_definition(name: str):
    module = __import__(f"{name}.app", fromlist=["service"])
    return module.service


async def runtime_for(name: str, postgres, tmp: Path):
    from rescue_chassis import migrations
    from rescue_chassis.app import build_runtime
    from rescue_localnet.network import LocalNetwork

    definition = service_definition(name)
    database = f"bench_{name}"
    await postgres.create_databases([database])
    url = postgres.sqlalchemy_url(database)
    await asyncio.to_thread(migrations.upgrade, definition.migrations_dir, url)
    # The development settings a local network gives the service (keys, secret),
    # with this database; the broker is never contacted.
    net = LocalNetwork.on_free_ports(tmp)
    prefix = name.upper() + "_"
    env = {
        k[len(prefix) :].lower(): v for k, v in net.env_for(name).items() if k.startswith(prefix)
    }
    env.update(database_url=url, kafka_bootstrap_servers="127.0.0.1:9")
    settings = definition.settings_class(**env)
    return build_runtime(definition, settings)


def postmaster_pid(data_dir: Path) -> int:
    return int(next(data_dir.rglob("postmaster.pid")).read_text().split()[0])


async def measure(name: str, postgres, tmp: Path, events: int, batch: int) -> dict:
    runtime = await runtime_for(name, postgres, tmp)
    consumer = runtime.consumer
    postmaster = postmaster_pid(Path(postgres.data_dir))

    def server_cpu() -> float:
        return sum(cpu_seconds(pid) for pid in (postmaster, *children_of(postmaster)))

    offset = 0
    try:
        # Warm-up: pool connections, prepared statements, imports on first use.
        for _ in range(5):
            records = [admission_record(offset + k, offset + k) for k in range(batch)]
            offset += batch
            await consumer.handle_batch(records)
        fetches = [
            [admission_record(offset + f * batch + k, offset + f * batch + k) for k in range(batch)]
            for f in range(max(events // batch, 1))
        ]
        per_fetch_ms = []
        client0, server0 = time.process_time(), server_cpu()
        for records in fetches:
            started = time.process_time()
            outcomes = await consumer.handle_batch(records)
            per_fetch_ms.append(1000 * (time.process_time() - started))
            if any(o.value != "applied" for o in outcomes):
                raise RuntimeError(f"{name}: not every record applied: {outcomes}")
        client, server = time.process_time() - client0, server_cpu() - server0
    finally:
        await runtime.engine.dispose()
    n = len(fetches) * batch
    return {
        "service": name,
        "batch": batch,
        "events": n,
        "client_us": 1e6 * client / n,
        "server_us": 1e6 * server / n,
        "fetch_median_ms": median(per_fetch_ms),
    }


async def main(args) -> list[dict]:
    from rescue_localnet.postgres import EmbeddedPostgres

    results = []
    with tempfile.TemporaryDirectory() as tmp:
        postgres = EmbeddedPostgres(Path(tmp) / "postgres")
        postgres.start()
        try:
            out(
                f"{'service':<10} {'batch':>5} {'events':>6} {'client µs/event':>16} "
                f"{'postgres µs/event':>18} {'client ms/fetch (median)':>25}"
            )
            for batch in args.batches:
                for name in args.services:
                    r = await measure(
                        name, postgres, Path(tmp) / f"net-{name}-{batch}", args.events, batch
                    )
                    results.append(r)
                    out(
                        f"{name:<10} {batch:>5} {r['events']:>6} {r['client_us']:>16.0f} "
                        f"{r['server_us']:>18.0f} {r['fetch_median_ms']:>25.2f}"
                    )
        finally:
            postgres.stop()
    return results


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--events", type=int, default=600)
    parser.add_argument("--batches", type=comma_list(int), default=[1, 10])
    parser.add_argument("--services", type=comma_list(), default=list(SERVICES))
    os.environ.setdefault("OTEL_SDK_DISABLED", "false")
    asyncio.run(main(parser.parse_args()))
