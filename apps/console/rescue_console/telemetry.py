"""The console's traces and metrics, on the services' plumbing (rescue_chassis).

- Traces: ``rescue_chassis.telemetry`` as every service sets it up (``OTEL_*``
  settings; spans recorded only where ``OTEL_EXPORTER_OTLP_ENDPOINT`` sends them,
  ids made and propagated always). A server span per page; a client span per call
  to a service, whose ``traceparent`` makes the service's spans children of the page.
- Metrics at ``GET /metrics`` (Prometheus text, or OpenMetrics when the scraper asks
  for it), in the app's own registry: pages as the services count requests
  (``rescue_http_*`` by route template), the calls to the services by service and
  path template, their refusals by status, and the sessions held. No label carries a
  person's id or a user's name. The latency histograms carry the page's trace as
  exemplar (OpenMetrics only), as the services' do.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable

import httpx
from fastapi import FastAPI, Request, Response
from opentelemetry.instrumentation.fastapi import FastAPIInstrumentor
from opentelemetry.instrumentation.httpx import HTTPXClientInstrumentor, RequestInfo
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.trace import Span
from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram
from prometheus_client.exposition import choose_encoder

from rescue_chassis import telemetry as chassis_telemetry

# The services' request middleware: the same series, so one dashboard reads both.
from rescue_chassis.metrics import _RequestMetrics

SERVICE = "console"
BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10)
# Health probes, scrapes and static files: no span of their own.
UNTRACED = "/health/live,/health/ready,/metrics$,/static/"
# A path segment kept in a template: words of the API ("persons", "review-queue").
_WORD = re.compile(r"[a-z]+(?:[-_][a-z]+)*")


def path_template(path: str) -> str:
    """``/persons/7f1c…/photos`` -> ``/persons/{id}/photos``: ids never become labels."""
    segments = path.split("?", 1)[0].split("/")
    return "/".join(s if not s or _WORD.fullmatch(s) else "{id}" for s in segments)


def start(log_level: str, tracer_provider: TracerProvider | None = None) -> ConsoleTelemetry:
    """JSON logs with trace ids, and the tracer provider a service's create_app makes
    (``tracer_provider``: the tests' recorder instead)."""
    chassis_telemetry.configure_logging(SERVICE, log_level)
    if tracer_provider is not None:
        return ConsoleTelemetry(tracer_provider, owns_provider=False)
    return ConsoleTelemetry(chassis_telemetry.configure_tracing(SERVICE), owns_provider=True)


class ConsoleTelemetry:
    def __init__(self, tracer_provider: TracerProvider, *, owns_provider: bool = False) -> None:
        self.tracer_provider = tracer_provider
        self._owns_provider = owns_provider
        self.registry = CollectorRegistry(auto_describe=True)
        self.requests = Counter(
            "rescue_http_requests",
            "HTTP requests answered, by route template and status.",
            ["service", "method", "route", "status"],
            registry=self.registry,
        )
        self.latency = Histogram(
            "rescue_http_request_duration_seconds",
            "Time to answer an HTTP request (a console page with its calls to the services).",
            ["service", "method", "route"],
            buckets=BUCKETS,
            registry=self.registry,
        )
        self.call_latency = Histogram(
            "rescue_console_service_call_duration_seconds",
            "Time of one call to a service's API, by the service called and path template.",
            ["service", "method", "route"],
            buckets=BUCKETS,
            registry=self.registry,
        )
        self.refusals = Counter(
            "rescue_console_service_refusals",
            "Calls a service answered with 4xx or 5xx (status), or never answered "
            '(status="unreachable").',
            ["service", "status"],
            registry=self.registry,
        )
        self.sessions = Gauge(
            "rescue_console_sessions",
            "Signed-in sessions this process holds (an expired one until the next sign-in).",
            registry=self.registry,
        )

    def install(self, app: FastAPI, sessions: Callable[[], int]) -> None:
        """Page metrics and ``/metrics``, and a server span per page."""
        self.sessions.set_function(sessions)
        app.add_middleware(_RequestMetrics, metrics=self, service=SERVICE)

        @app.get("/metrics", include_in_schema=False)
        async def metrics(request: Request) -> Response:
            # OpenMetrics when the scraper asks for it (Prometheus does): only that
            # format carries the latency histograms' trace exemplars.
            encode, media_type = choose_encoder(request.headers.get("accept", ""))
            return Response(encode(self.registry), headers={"Content-Type": media_type})

        FastAPIInstrumentor.instrument_app(
            app,
            tracer_provider=self.tracer_provider,
            excluded_urls=UNTRACED,
            exclude_spans=["receive", "send"],
        )

    def instrument_client(self, client: httpx.AsyncClient, urls: dict[str, str]) -> None:
        """A client span per call, carrying ``traceparent`` to the service."""
        services = {httpx.URL(url).netloc: name for name, url in urls.items()}

        async def name_the_call(span: Span, request: RequestInfo) -> None:
            url = httpx.URL(str(request.url))
            template = path_template(url.path)
            span.update_name(f"{request.method.decode()} {template}")
            span.set_attribute("url.template", template)
            if service := services.get(url.netloc):
                span.set_attribute("peer.service", service)

        HTTPXClientInstrumentor.instrument_client(
            client, tracer_provider=self.tracer_provider, request_hook=name_the_call
        )

    def observe_call(
        self, service: str, method: str, path: str, status: int, started: float
    ) -> None:
        """``status`` 0: the service could not be reached."""
        # the page's trace as exemplar: Grafana links a slow call to the page that made it
        self.call_latency.labels(service, method, path_template(path)).observe(
            time.perf_counter() - started, exemplar=chassis_telemetry.trace_exemplar()
        )
        if status == 0 or status >= 400:
            self.refusals.labels(service, str(status) if status else "unreachable").inc()

    def close(self) -> None:
        if self._owns_provider:
            self.tracer_provider.shutdown()  # the spans still queued go out
