"""The app factory every service calls with its own ``ServiceDefinition``.

One wiring point: settings, database, telemetry, the outbox relay and the
consumer are built here; a service only declares its routers, its tables and
which events it handles.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import uuid
from collections.abc import Callable, Mapping, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path

from fastapi import APIRouter, FastAPI

from rescue_chassis import (
    access,
    audit,
    crypto,
    gate,
    heap,
    openapi,
    problems,
    routes,
    telemetry,
)
from rescue_chassis.db import create_engine, session_factory
from rescue_chassis.limits import install as install_limits
from rescue_chassis.metrics import ServiceMetrics, WorkMetric, stale_values_metric
from rescue_chassis.network import load_network
from rescue_chassis.periodic import PeriodicJob, run_forever
from rescue_chassis.runtime import Runtime
from rescue_chassis.settings import ServiceSettings
from rescue_chassis.tables import ServiceTables
from rescue_events.compat import CONTRACTS_VERSION
from rescue_events.consumer import EventConsumer, Handler
from rescue_events.context import CausalContext, caused_by
from rescue_events.contracts.base import EventContract
from rescue_events.kafka import KafkaSettings
from rescue_events.outbox import Outbox
from rescue_events.registry import Topic
from rescue_events.relay import OutboxRelay

log = logging.getLogger(__name__)

CORRELATION_HEADER = "X-Correlation-ID"
_CORRELATION_KEY = CORRELATION_HEADER.lower().encode()


class CorrelationMiddleware:
    """The caller's correlation id (or a new one) for everything this request
    causes, echoed on the response. Pure ASGI: no per-request task or body
    streaming as with BaseHTTPMiddleware, which costs throughput."""

    def __init__(self, app) -> None:
        self.app = app

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        given = next(
            (v.decode("latin-1") for k, v in scope["headers"] if k == _CORRELATION_KEY), ""
        )
        correlation_id = (
            given
            if 0 < len(given) <= 100 and given.isascii() and given.isprintable()
            else str(uuid.uuid4())
        )

        async def send_with_id(message) -> None:
            if message["type"] == "http.response.start":
                headers = [*message.get("headers", []), (_CORRELATION_KEY, correlation_id.encode())]
                message = {**message, "headers": headers}
            await send(message)

        with caused_by(CausalContext(correlation_id=correlation_id)):
            await self.app(scope, receive, send_with_id)


@dataclass(frozen=True)
class ServiceDefinition:
    name: str
    title: str
    description: str
    settings_class: type[ServiceSettings]
    tables: ServiceTables
    migrations_dir: Path
    produces: Sequence[Topic]
    routers: Sequence[APIRouter] = ()
    # Built with the runtime, so handlers get their dependencies passed in.
    handlers: Callable[[Runtime], Mapping[type[EventContract], Handler]] | None = None
    # Deadline sweeps, every `periodic_interval_seconds` (see rescue_chassis.periodic).
    periodic: Callable[[Runtime], Sequence[PeriodicJob]] | None = None
    # Figures of the service's own work for /metrics (rescue_chassis.metrics).
    work_metrics: Sequence[WorkMetric] = ()
    # Loaded before serving, in a thread (reference data such as the division
    # codes): the first request does not wait, and a failure stops the start.
    startup: Sequence[Callable[[], object]] = ()
    # One version for every published contract (the AsyncAPI document says it too).
    version: str = CONTRACTS_VERSION
    extra: dict = field(default_factory=dict)


def build_runtime(definition: ServiceDefinition, settings: ServiceSettings) -> Runtime:
    engine = create_engine(settings.database_url)
    # Protection at rest: this engine's key ring (rescue_chassis.crypto), from the settings.
    key_ring = None
    if crypto.has_encrypted_columns(definition.tables.metadata):
        key_ring = crypto.key_ring_from_settings(settings, service=definition.name)
        crypto.bind_key_ring(engine, key_ring)
    kafka = KafkaSettings(
        bootstrap_servers=settings.kafka_bootstrap_servers,
        client_id=definition.name,
        topic_replication=settings.kafka_topic_replication,
        security_protocol=settings.kafka_security_protocol,
        sasl_mechanism=settings.kafka_sasl_mechanism,
        sasl_username=settings.kafka_sasl_username,
        sasl_password=(
            settings.kafka_sasl_password.get_secret_value()
            if settings.kafka_sasl_password
            else None
        ),
        ssl_cafile=settings.kafka_ssl_cafile,
    )
    sessions = session_factory(engine)
    outbox = Outbox(definition.tables.plumbing.outbox, source=f"/rescue-network/{definition.name}")
    runtime = Runtime(
        name=definition.name,
        settings=settings,
        engine=engine,
        sessions=sessions,
        tables=definition.tables,
        outbox=outbox,
        relay=None,  # type: ignore[arg-type]  (set below: it needs the consumer's topics)
        network=load_network(settings.network_file, settings.network_recheck_seconds),
    )
    topics = list(definition.produces)
    if definition.handlers is not None:
        runtime.consumer = EventConsumer(
            name=definition.name,
            kafka=kafka,
            sessions=sessions,
            tables=definition.tables.plumbing,
            outbox=outbox,
            handlers=definition.handlers(runtime),
        )
        topics.append(runtime.consumer.dead_letter_topic)
    if definition.periodic is not None:
        runtime.periodic = list(definition.periodic(runtime))
    if key_ring is not None:  # re-encrypts rows still plain or under an old key
        runtime.periodic.append(
            crypto.rotation_job(
                key_ring, definition.tables.metadata, settings.data_key_rotation_batch
            )
        )
    runtime.relay = OutboxRelay(
        engine=engine,
        table=definition.tables.plumbing.outbox,
        kafka=kafka,
        topics=topics,
        batch_size=settings.relay_batch_size,
        retention_seconds=settings.outbox_retention_seconds,
        republish_lost=settings.relay_republish_lost,
    )
    return runtime


def create_app(definition: ServiceDefinition, settings: ServiceSettings | None = None) -> FastAPI:
    settings = settings or definition.settings_class()
    telemetry.configure_logging(definition.name, settings.log_level)
    provider = telemetry.configure_tracing(definition.name)
    runtime = build_runtime(definition, settings)
    if crypto.has_encrypted_columns(definition.tables.metadata):  # the rotation's progress
        metric = stale_values_metric(definition.tables.metadata)
        definition = dataclasses.replace(
            definition, work_metrics=[*definition.work_metrics, metric]
        )

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        # The relay and consumer start in the background and keep retrying:
        # the API serves (and the outbox fills) even while the broker is away.
        background = [asyncio.create_task(runtime.relay.run(), name="outbox-relay")]
        if runtime.consumer is not None:
            background.append(asyncio.create_task(runtime.consumer.run(), name="consumer"))
        if runtime.periodic:
            interval = settings.periodic_interval_seconds
            background.append(
                asyncio.create_task(
                    run_forever(runtime.sessions, runtime.periodic, interval), name="periodic"
                )
            )
        for load in definition.startup:
            await asyncio.to_thread(load)
        heap.settle()  # what start-up built stays: no full GC pass walks it again
        log.info("%s started", definition.name)
        try:
            yield
        finally:
            await audit.drain()  # entries of answered writes, before the relay stops
            for task in background:
                task.cancel()
            await asyncio.gather(*background, return_exceptions=True)
            await runtime.engine.dispose()
            provider.shutdown()

    app = FastAPI(
        title=definition.title,
        description=definition.description,
        version=definition.version,
        lifespan=lifespan,
        generate_unique_id_function=openapi.operation_id,  # readable, stable operationIds
        # Off: rescue_chassis.telemetry traces requests (FastAPI's own would add its
        # spans beside, or per request ask whether the instrumentation is there).
        telemetry={"tracing": False, "metrics": False, "logs": False},
    )
    app.state.runtime = runtime
    problems.install(app)
    openapi.install(app)  # summaries, examples: after the problem answers

    # Inside the limits (a request refused waits for nothing; a body is bounded
    # before the gate reads it) and the metrics (a wait counts in the latency).
    gate.install(app, settings)
    install_limits(app, settings)  # body size, rate, URL and headers; no trace to clients
    app.add_middleware(CorrelationMiddleware)
    ServiceMetrics(runtime, definition.work_metrics).install(app)
    audit.install(app)  # every read and write of person data, hash-chained
    app.include_router(routes.health)
    app.include_router(routes.ops)
    # Every business route says which roles may call it: none may be forgotten.
    if unguarded := access.unguarded_routes(definition.routers):
        raise RuntimeError(f"{definition.name}: routes without roles: {', '.join(unguarded)}")
    for router in definition.routers:
        app.include_router(router, dependencies=[access.KNOWN_STATION])
    telemetry.instrument(app, runtime.engine)
    return app
