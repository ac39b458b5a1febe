"""Helpers shared by the integration and end-to-end tests."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import asyncpg
import httpx
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from opentelemetry import trace
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from rescue_chassis import migrations
from rescue_localnet.network import LocalNetwork
from rescue_localnet.postgres import EmbeddedPostgres

JWT_SECRET = "test-secret-" + "x" * 40

# Spans of the in-process tests, which trace like the services do.
SPANS = InMemorySpanExporter()


def trace_into_memory() -> None:
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(SPANS))
    trace.set_tracer_provider(provider)


async def migrated_database(postgres: EmbeddedPostgres, migrations_dir: Path) -> str:
    """A new, migrated database; returns its SQLAlchemy URL."""
    import uuid

    name = f"t_{uuid.uuid4().hex[:12]}"
    await postgres.create_databases([name])
    url = postgres.sqlalchemy_url(name)
    # Alembic's env runs its own event loop: give it a thread.
    await asyncio.to_thread(migrations.upgrade, migrations_dir, url)
    return url


def a_network(data_dir: Path, **extra_env: str) -> LocalNetwork:
    """The network on free ports, so tests never collide with a running `make run`."""
    return LocalNetwork.on_free_ports(data_dir, extra_env=extra_env)


async def read_topic(
    bootstrap: str,
    topic: str,
    *,
    until: Callable[[list[Any]], bool],
    timeout: float = 20.0,
) -> list[Any]:
    """Read a topic from the beginning (no consumer group) until ``until(records)``.
    A retired topic (issue 30's layout) is read as its successors, which carry its
    events now: their records in the order they were written."""
    import rescue_events.contracts  # noqa: F401  (registers the topics, the retired ones too)
    from rescue_events.registry import registry

    retired = registry.topics.get(topic)
    names = list(retired.successors) if retired is not None and retired.retired else [topic]
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False)
    await consumer.start()
    try:
        deadline = time.monotonic() + timeout
        assigned = []
        for name in names:  # every one exists once its producer's relay has started
            await consumer._client.add_topic(name)  # metadata is asked only for known topics
            partitions = consumer.partitions_for_topic(name)
            while not partitions and time.monotonic() < deadline:
                await consumer._client.force_metadata_update()
                partitions = consumer.partitions_for_topic(name)
                await asyncio.sleep(0.1)
            assigned += [TopicPartition(name, p) for p in partitions or ()]
        assert assigned, f"topic {topic} does not exist"
        consumer.assign(assigned)
        await consumer.seek_to_beginning()
        records: list[Any] = []
        while time.monotonic() < deadline:
            batches = await consumer.getmany(timeout_ms=200)
            for batch in batches.values():
                records.extend(batch)
            if len(names) > 1:  # the producer's order across its topics
                records.sort(key=_outbox_position)
            if until(records):
                return records
        raise AssertionError(f"{topic}: condition not met after {timeout}s; read {len(records)}")
    finally:
        await consumer.stop()


def _outbox_position(record) -> int:
    from rescue_events.relay import SEQUENCE_HEADER

    return int(dict(record.headers or ()).get(SEQUENCE_HEADER, b"0"))


async def produce_raw(
    bootstrap: str, topic: str, *, value: bytes, key: bytes | None, headers: list[tuple[str, bytes]]
) -> None:
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all")
    await producer.start()
    try:
        await producer.send_and_wait(topic, value=value, key=key, headers=headers)
    finally:
        await producer.stop()


async def eventually(check: Callable[[], Any], *, timeout: float = 20.0, interval: float = 0.05):
    """Poll an async or sync check until it returns a truthy value."""
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        last = check()
        if asyncio.iscoroutine(last):
            last = await last
        if last:
            return last
        await asyncio.sleep(interval)
    raise AssertionError(f"condition not met after {timeout}s (last value: {last!r})")


class OtlpReceiver:
    """A real OTLP/HTTP receiver (protobuf), collecting spans (/v1/traces) and log
    records (/v1/logs) in memory."""

    def __init__(self) -> None:
        import threading

        # By trace id: a long e2e session collects hundreds of thousands of spans,
        # and a test polling a scan of them all would starve the receiving threads.
        self._spans: dict[str, list[dict[str, Any]]] = {}
        self._logs: dict[str, list[dict[str, Any]]] = {}
        self._lock = threading.Lock()
        self._server = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    def start(self) -> None:
        import gzip
        import threading
        from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

        from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import (
            ExportLogsServiceRequest,
            ExportLogsServiceResponse,
        )
        from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
            ExportTraceServiceRequest,
            ExportTraceServiceResponse,
        )

        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):  # noqa: N802 - http.server's name
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                if self.headers.get("Content-Encoding") == "gzip":
                    body = gzip.decompress(body)
                if self.path == "/v1/logs":
                    receiver._collect_logs(ExportLogsServiceRequest.FromString(body))
                    answer = ExportLogsServiceResponse().SerializeToString()
                else:
                    request = ExportTraceServiceRequest.FromString(body)
                    receiver._collect(request)
                    answer = ExportTraceServiceResponse().SerializeToString()
                self.send_response(200)
                self.send_header("Content-Type", "application/x-protobuf")
                self.send_header("Content-Length", str(len(answer)))
                self.end_headers()
                self.wfile.write(answer)

            def log_message(self, *args):
                pass

        class Server(ThreadingHTTPServer):
            # Seven processes export every 100 ms: socketserver's backlog of 5 refuses
            # connections while the GIL is busy, and an exporter drops what it could not send.
            request_queue_size = 256
            daemon_threads = True

        self._server = Server(("127.0.0.1", 0), Handler)
        threading.Thread(target=self._server.serve_forever, daemon=True).start()

    def _collect(self, request) -> None:
        for resource_spans in request.resource_spans:
            attributes = {a.key: a.value.string_value for a in resource_spans.resource.attributes}
            for scope_spans in resource_spans.scope_spans:
                for span in scope_spans.spans:
                    trace_id = span.trace_id.hex()
                    with self._lock:
                        self._spans.setdefault(trace_id, []).append(
                            {
                                "service": attributes.get("service.name"),
                                "trace_id": trace_id,
                                "span_id": span.span_id.hex(),
                                "parent_span_id": span.parent_span_id.hex(),
                                "name": span.name,
                            }
                        )

    def _collect_logs(self, request) -> None:
        from google.protobuf.json_format import MessageToDict

        for resource_logs in request.resource_logs:
            attributes = {a.key: a.value.string_value for a in resource_logs.resource.attributes}
            for scope_logs in resource_logs.scope_logs:
                for record in scope_logs.log_records:
                    values = {
                        a.key: next(iter(MessageToDict(a.value).values()), None)
                        for a in record.attributes
                    }
                    trace_id = record.trace_id.hex()
                    with self._lock:
                        self._logs.setdefault(trace_id, []).append(
                            {
                                "service": attributes.get("service.name"),
                                "trace_id": trace_id,
                                "span_id": record.span_id.hex(),
                                "body": record.body.string_value,
                                "attributes": values,
                            }
                        )

    def log_records(self, trace_id: str) -> list[dict[str, Any]]:
        with self._lock:
            return list(self._logs.get(trace_id, ()))

    def trace(self, trace_id: str) -> list[dict[str, Any]]:
        with self._lock:
            return list(self._spans.get(trace_id, ()))

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()


# ---- end-to-end helpers: the network runs as separate processes -------------


def poll(check: Callable[[], Any], *, timeout: float = 45.0, interval: float = 0.1):
    """Poll a sync check until it returns a truthy value (e2e tests are sync)."""
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        last = check()
        if last:
            return last
        time.sleep(interval)
    raise AssertionError(f"condition not met after {timeout}s (last: {last!r})")


def station_client(
    network: LocalNetwork, station: str = "gushi", roles=("station_staff",)
) -> httpx.Client:
    token = network.token(station, list(roles))
    return httpx.Client(headers={"Authorization": f"Bearer {token}"}, timeout=10)


def query(network: LocalNetwork, database: str, sql: str, *args) -> list[asyncpg.Record]:
    async def run():
        conn = await asyncpg.connect(network.postgres.dsn(database))
        try:
            return await conn.fetch(sql, *args)
        finally:
            await conn.close()

    return asyncio.run(run())


def topic_events(network: LocalNetwork, topic: str, until: Callable[[list[Any]], bool]):
    """Records of a topic from the beginning, until ``until(records)`` holds."""
    return asyncio.run(read_topic(network.broker.bootstrap_servers, topic, until=until))


class WebhookReceiver:
    """A partner's webhook endpoint, for real HTTP deliveries in tests: answers 500
    to the first ``fail_first`` requests, then 200, and keeps every request."""

    def __init__(self, fail_first: int = 0) -> None:
        import threading
        from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

        receiver = self
        self.requests: list[tuple[dict[str, str], bytes]] = []
        self.fail_first = fail_first
        self._lock = threading.Lock()

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):  # noqa: N802 (http.server's name)
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                with receiver._lock:
                    receiver.requests.append((dict(self.headers), body))
                    failing = len(receiver.requests) <= receiver.fail_first
                self.send_response(500 if failing else 200)
                self.end_headers()

            def log_message(self, *args):
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_port}/rescue-referrals"

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()


def wait_for_more_sweeps(network: LocalNetwork, service_url: str, job: str, more: int = 3) -> None:
    """Wait until the service's deadline sweep ``job`` has run ``more`` more times
    (its runs are on GET /ops/periodic), e.g. to show a deadline is raised once."""
    with station_client(network, "center", ("ops",)) as ops:

        def runs() -> int:
            jobs = ops.get(f"{service_url}/ops/periodic").json()
            return next(j["runs"] for j in jobs if j["name"] == job)

        start = runs()
        poll(lambda: runs() >= start + more)


def shared_testdata() -> Path:
    """The shared test data (real face photos), read-only: ``$RESCUE_TESTDATA``,
    else ``../shared/testdata`` beside this checkout, else beside the repository it
    was cloned from (a fresh clone in a temporary directory has no ``../shared``)."""
    import os
    import subprocess

    repo = Path(__file__).resolve().parents[1]
    candidates = [Path(os.environ["RESCUE_TESTDATA"])] if "RESCUE_TESTDATA" in os.environ else []
    candidates.append(repo.parent / "shared" / "testdata")
    origin = subprocess.run(
        ["git", "-C", str(repo), "remote", "get-url", "origin"],
        capture_output=True,
        text=True,
        check=False,
    ).stdout.strip()
    if origin and Path(origin).is_dir():
        candidates.append(Path(origin).resolve().parent / "shared" / "testdata")
    for candidate in candidates:
        if (candidate / "faces").is_dir():
            return candidate
    raise FileNotFoundError(f"no shared test data in {[str(c) for c in candidates]}")


# ---- real administrative codes, each handed out once per test run ----------------
# Codes are checked against the gazetteer (rescue_divisions): tests that need a
# home or a jurisdiction of their own take a real one nobody else in this run has.

_handed_out: set[str] = set()  # cities and counties given to a test already


def _real_codes(filename: str) -> list[str]:
    import random

    from rescue_divisions import default_dir

    lines = (default_dir() / filename).read_text("utf-8").splitlines()[1:]
    codes = [line.split(",", 1)[0] for line in lines]
    random.SystemRandom().shuffle(codes)
    return codes


def a_real_county(province: str = "", *, avoid: tuple[str, ...] = ("41",)) -> str:
    """A current county code (of ``province``'s 2 digits, if given) in a city no
    earlier call of this run had, so a test's directory entries and figures by
    county or city are its own. ``avoid``: provinces left out (41: the network's
    own stations serve Henan)."""
    for county in _real_codes("areas.csv"):
        city = county[:4]
        if county.startswith(province) and not county.startswith(avoid) and city not in _handed_out:
            _handed_out.update((city, county))
            return county
    raise AssertionError(f"no county of {province or 'China'} left for this test run")


def a_real_town(within: str) -> str:
    """A current town code: of the county ``within`` (6 digits), or of a province
    (2 digits) in a county no earlier call of this run had."""
    for town in _real_codes("streets.csv"):
        county = town[:6]
        if not town.startswith(within):
            continue
        if len(within) == 6 or county not in _handed_out:
            _handed_out.add(county)
            return town
    raise AssertionError(f"no town of {within} left for this test run")
