"""Prometheus metrics at ``GET /metrics``, the same for every service.

Two kinds:
- request rate and latency, counted by a middleware as requests pass;
- state read at scrape time (outbox backlog and age, consumer lag, dead letters,
  deadline sweeps, and each service's own work gauges), so a restarted process
  reports the truth at once instead of counting from zero.

Each app has its own registry: several apps in one test process never collide.
Beside the service's own series it carries the standard ones of the process
(``process_*``: CPU, memory, open files, start time) and of Python (``python_gc_*``,
``python_info``), as the default registry would.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from fastapi import FastAPI, Request, Response
from prometheus_client import (
    GC_COLLECTOR,
    PLATFORM_COLLECTOR,
    PROCESS_COLLECTOR,
    CollectorRegistry,
    Counter,
    Histogram,
)
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.exposition import choose_encoder
from sqlalchemy import MetaData, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from rescue_chassis.crypto import key_ring_of, stale_values
from rescue_chassis.runtime import Runtime
from rescue_chassis.telemetry import log_access, trace_exemplar

log = logging.getLogger(__name__)

# (label values, value) rows a work metric reads from the service's database
Rows = list[tuple[tuple[str, ...], float]]
SCRAPE_TIMEOUT = 5.0


@dataclass(frozen=True)
class WorkMetric:
    """A figure of the service's own work, read from its database at scrape time,
    e.g. open search cases per station."""

    name: str
    help: str
    labels: tuple[str, ...]
    read: Callable[[AsyncSession, datetime], Awaitable[Rows]]
    kind: str = "gauge"  # or "counter" for monotonically growing totals


class _Snapshot:
    """A collector whose families are replaced at each scrape."""

    def __init__(self) -> None:
        self.families: list[Metric] = []

    def collect(self):
        return iter(self.families)


class ServiceMetrics:
    def __init__(self, runtime: Runtime, work: Sequence[WorkMetric]) -> None:
        self.runtime = runtime
        self.work = list(work)
        self.registry = CollectorRegistry(auto_describe=False)
        # the default registry's process and runtime collectors: they read the process
        # at each scrape, so one instance serves every registry
        for standard in (PROCESS_COLLECTOR, PLATFORM_COLLECTOR, GC_COLLECTOR):
            self.registry.register(standard)
        self.requests = Counter(
            "rescue_http_requests",
            "HTTP requests answered, by route template and status.",
            ["service", "method", "route", "status"],
            registry=self.registry,
        )
        self.latency = Histogram(
            "rescue_http_request_duration_seconds",
            "Time to answer an HTTP request.",
            ["service", "method", "route"],
            buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
            registry=self.registry,
        )
        self._snapshot = _Snapshot()
        self.registry.register(self._snapshot)
        self._lock = asyncio.Lock()
        self._app_state = None  # the app's, once installed: the request gate is there

    def install(self, app: FastAPI) -> None:
        service = self.runtime.name
        self._app_state = app.state
        app.add_middleware(_RequestMetrics, metrics=self, service=service)

        @app.get("/metrics", include_in_schema=False)
        async def metrics(request: Request) -> Response:
            # OpenMetrics when the scraper asks for it (Prometheus does): only that
            # format carries the latency histogram's trace exemplars.
            encode, media_type = choose_encoder(request.headers.get("accept", ""))
            async with self._lock:
                self._snapshot.families = await self.read_state()
                body = encode(self.registry)
            return Response(body, headers={"Content-Type": media_type})

    async def read_state(self) -> list[Metric]:
        """Everything read at scrape time; a part that cannot be read (the database
        or broker away) is left out and logged, never failing the scrape."""
        service = self.runtime.name
        families: list[Metric] = []
        parts = [self._plumbing(service), self._lag(service), self._work(service)]
        for part in parts:
            try:
                families.extend(await asyncio.wait_for(part, SCRAPE_TIMEOUT))
            except Exception as exc:  # noqa: BLE001  (a scrape reports what it can)
                log.warning("metrics: part of the state could not be read: %s", exc)
        families.extend(self._periodic(service))
        families.extend(self._gate(service))
        families.extend(self._broker(service))
        return families

    def _gate(self, service: str) -> list[Metric]:
        gate = getattr(self._app_state, "request_gate", None)
        if gate is None:
            return []
        shed = CounterMetricFamily(
            "rescue_http_requests_shed",
            "Requests answered 503 after waiting for a turn too long (rescue_chassis.gate).",
            labels=["service"],
        )
        shed.add_metric([service], gate.shed)
        return [
            _gauge(
                "rescue_http_requests_in_progress",
                f"Requests being worked on (at most {gate.limit}).",
                service,
                gate.in_progress,
            ),
            _gauge(
                "rescue_http_requests_waiting",
                "Requests waiting for a turn.",
                service,
                gate.waiting,
            ),
            shed,
        ]

    async def _plumbing(self, service: str) -> list[Metric]:
        outbox = self.runtime.tables.plumbing.outbox
        letters = self.runtime.tables.plumbing.dead_letters
        async with self.runtime.sessions() as session:
            backlog, oldest = (
                await session.execute(
                    select(func.count(), func.min(outbox.c.created_at)).where(
                        outbox.c.published_at.is_(None)
                    )
                )
            ).one()
            unreplayed = await session.scalar(
                select(func.count())
                .select_from(letters)
                .where(letters.c.replayed_at.is_(None), letters.c.discarded_at.is_(None))
            )
        age = (datetime.now(UTC) - oldest).total_seconds() if oldest else 0.0
        return [
            _gauge("rescue_outbox_backlog", "Outbox rows not yet published.", service, backlog),
            _gauge(
                "rescue_outbox_oldest_age_seconds",
                "Age of the oldest unpublished outbox row.",
                service,
                age,
            ),
            _gauge(
                "rescue_dead_letters",
                "Dead letters neither replayed nor discarded.",
                service,
                unreplayed,
            ),
        ]

    def _broker(self, service: str) -> list[Metric]:
        relay = self.runtime.relay
        republished = CounterMetricFamily(
            "rescue_outbox_republished",
            "Published events marked to be sent again (the broker lost them, or ops asked), "
            "by this process.",
            labels=["service"],
        )
        republished.add_metric([service], relay.republished_total)
        return [
            _gauge(
                "rescue_broker_up",
                "Whether the broker answers this process (its relay's watch, every second).",
                service,
                1.0 if relay.watch.reachable else 0.0,
            ),
            republished,
        ]

    async def _lag(self, service: str) -> list[Metric]:
        if self.runtime.consumer is None:
            return []
        family = GaugeMetricFamily(
            "rescue_consumer_lag",
            "Messages this consumer is behind, per partition assigned to it.",
            labels=["service", "topic", "partition"],
        )
        for lag in await self.runtime.consumer.lag():
            family.add_metric([service, lag.topic, str(lag.partition)], lag.lag)
        return [family]

    def _periodic(self, service: str) -> list[Metric]:
        # "sweep", not "job": Prometheus puts its own job label on every series.
        runs = CounterMetricFamily(
            "rescue_periodic_runs", "Runs of deadline sweeps.", labels=["service", "sweep"]
        )
        failures = CounterMetricFamily(
            "rescue_periodic_failures",
            "Failed runs of deadline sweeps.",
            labels=["service", "sweep"],
        )
        for job in self.runtime.periodic:
            runs.add_metric([service, job.name], job.status.runs)
            failures.add_metric([service, job.name], job.status.failures)
        return [runs, failures] if self.runtime.periodic else []

    async def _work(self, service: str) -> list[Metric]:
        families: list[Metric] = []
        now = datetime.now(UTC)
        async with self.runtime.sessions() as session:
            for metric in self.work:
                family_type = CounterMetricFamily if metric.kind == "counter" else GaugeMetricFamily
                name = (
                    metric.name.removesuffix("_total") if metric.kind == "counter" else metric.name
                )
                family = family_type(name, metric.help, labels=["service", *metric.labels])
                for labels, value in await metric.read(session, now):
                    family.add_metric([service, *labels], value)
                families.append(family)
        return families


def _gauge(name: str, help_: str, service: str, value: float) -> GaugeMetricFamily:
    family = GaugeMetricFamily(name, help_, labels=["service"])
    family.add_metric([service], value)
    return family


async def grouped_count(session: AsyncSession, query) -> Rows:
    """Rows of (labels…, count) from a GROUP BY query, as a work metric reads them."""
    return [
        (tuple(str(v) for v in row[:-1]), float(row[-1]))
        for row in (await session.execute(query)).all()
    ]


def stale_values_metric(metadata: MetaData) -> WorkMetric:
    """``rescue_encryption_stale_values{table,column}`` (rescue_chassis.crypto), read
    at scrape time with the key ring of the session's engine."""

    async def read(session: AsyncSession, now: datetime) -> Rows:
        ring = key_ring_of(session.bind.dialect)
        return [((t, c), float(n)) for t, c, n in await stale_values(session, ring, metadata)]

    return WorkMetric(
        name="rescue_encryption_stale_values",
        help="Personal values still in plain text or under an old data key (and blind "
        "indexes not yet filled); the re-encryption job brings it to 0.",
        labels=("table", "column"),
        read=read,
    )


class _RequestMetrics:
    """Counts requests by route template and status, and their latency. Pure ASGI
    (see rescue_chassis.app.CorrelationMiddleware for why)."""

    def __init__(self, app, *, metrics: ServiceMetrics, service: str) -> None:
        self.app = app
        self.metrics = metrics
        self.service = service
        self._children: dict[tuple[str, str, int], tuple[Any, Any]] = {}

    def _series(self, method: str, template: str, status: int) -> tuple[Any, Any]:
        """The counter and histogram children of these labels, looked up once (route
        templates and statuses are few: the cache stays small)."""
        key = (method, template, status)
        found = self._children.get(key)
        if found is None:
            found = self._children[key] = (
                self.metrics.requests.labels(self.service, method, template, str(status)),
                self.metrics.latency.labels(self.service, method, template),
            )
        return found

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500

        async def send_recording_status(message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, send_recording_status)
        finally:
            # the router put the matched route into the scope on the way in
            template = getattr(scope.get("route"), "path", "unmatched")
            method = scope["method"]
            if template != "/metrics":
                requests, latency = self._series(method, template, status)
                requests.inc()
                # the request's trace as exemplar: Grafana links a slow bucket to it
                latency.observe(time.perf_counter() - started, exemplar=trace_exemplar())
            log_access(method, template, status, started)
