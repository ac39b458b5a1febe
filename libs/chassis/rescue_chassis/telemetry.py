"""Traces and structured logs for one service process.

Spans go over OTLP/HTTP when ``OTEL_EXPORTER_OTLP_ENDPOINT`` is set (the
OpenTelemetry Collector), sampled as ``OTEL_TRACES_SAMPLER`` says (the SDK's
default: every trace; SQL statements get spans of their own). Without an endpoint,
spans are not recorded at all and statements get none: trace and span ids are
still made and propagated, so they still appear in the JSON logs and in the
events' headers, but no span is filled only to be dropped.

Logs are JSON lines on stderr with the trace and span ids of the request or event
being handled; with an endpoint they also go over OTLP (``/v1/logs``, off with
``OTEL_LOGS_EXPORTER=none``) to the collector, which ships them to Loki, where
each line links to its trace. One access line per request (``rescue.access``):
method, route template, status and duration, never the query string or a body.
"""

from __future__ import annotations

import logging
import os
import sys
import time
from functools import cache

from opentelemetry import propagate, trace
from opentelemetry._logs import SeverityNumber
from opentelemetry.exporter.otlp.proto.http._log_exporter import OTLPLogExporter
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.instrumentation.fastapi import FastAPIInstrumentor
from opentelemetry.instrumentation.httpx import HTTPXClientInstrumentor
from opentelemetry.instrumentation.sqlalchemy import SQLAlchemyInstrumentor
from opentelemetry.propagators.textmap import Getter
from opentelemetry.sdk._logs import LoggerProvider
from opentelemetry.sdk._logs.export import BatchLogRecordProcessor
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor
from opentelemetry.sdk.trace.sampling import ALWAYS_OFF
from opentelemetry.trace import SpanKind
from pythonjsonlogger.json import JsonFormatter


class _TraceIds(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        context = trace.get_current_span().get_span_context()
        if context.is_valid:
            record.trace_id = format(context.trace_id, "032x")
            record.span_id = format(context.span_id, "016x")
        return True


def configure_logging(service: str, level: str) -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(
        JsonFormatter(
            "%(asctime)s %(levelname)s %(name)s %(message)s",
            rename_fields={"asctime": "time", "levelname": "level", "name": "logger"},
            static_fields={"service": service},
        )
    )
    handler.addFilter(_TraceIds())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    if exporting_logs():
        root.handlers.append(_otlp_log_handler(service))
    root.setLevel(level)
    # aiokafka is chatty about every reconnect attempt while the broker is away.
    logging.getLogger("aiokafka").setLevel(max(logging.WARNING, root.level))
    # httpx logs every call's full URL at INFO, query string (names, phones) and all.
    logging.getLogger("httpx").setLevel(max(logging.WARNING, root.level))


def _resource(service: str) -> Resource:
    # OTEL_RESOURCE_ATTRIBUTES (e.g. deployment.environment) is merged in by the SDK.
    return Resource.create(
        {
            "service.name": os.environ.get("OTEL_SERVICE_NAME", service),
            "service.namespace": "rescue-network",
        }
    )


# Fields of a log record that are its envelope, not something the code said (the
# ids _TraceIds copied onto it travel in the OTLP record's own fields).
_RECORD_FIELDS = frozenset(vars(logging.makeLogRecord({}))) | {
    "message",
    "asctime",
    "trace_id",
    "span_id",
}


class _OtlpLogHandler(logging.Handler):
    """Each record as an OTLP log record: the body is the message, the fields given
    with ``extra=`` are attributes, and the trace and span ids come from the current
    span (Loki keeps them as structured metadata, Grafana links them to the trace)."""

    def __init__(self, provider: LoggerProvider) -> None:
        super().__init__()
        self.provider = provider

    def emit(self, record: logging.LogRecord) -> None:
        if record.name.startswith("opentelemetry"):
            return  # the exporter's own complaints would feed themselves
        try:
            attributes = {
                key: value if isinstance(value, (str, bool, int, float)) else str(value)
                for key, value in vars(record).items()
                if key not in _RECORD_FIELDS and value is not None
            }
            attributes["logger"] = record.name
            if record.exc_info and record.exc_info[1] is not None:
                attributes["exception.type"] = type(record.exc_info[1]).__name__
            self.provider.get_logger(record.name).emit(
                timestamp=int(record.created * 1e9),
                severity_number=_SEVERITY.get(record.levelno, SeverityNumber.INFO),
                severity_text=record.levelname,
                body=record.getMessage(),
                attributes=attributes,
            )
        except Exception:  # noqa: BLE001  (logging must never break the caller)
            self.handleError(record)


_SEVERITY = {
    logging.DEBUG: SeverityNumber.DEBUG,
    logging.INFO: SeverityNumber.INFO,
    logging.WARNING: SeverityNumber.WARN,
    logging.ERROR: SeverityNumber.ERROR,
    logging.CRITICAL: SeverityNumber.FATAL,
}


@cache
def _otlp_log_handler(service: str) -> _OtlpLogHandler:
    # One provider (and one export thread) per process, however often apps are built.
    provider = LoggerProvider(resource=_resource(service))
    provider.add_log_record_processor(BatchLogRecordProcessor(OTLPLogExporter()))
    return _OtlpLogHandler(provider)


def exporting_logs() -> bool:
    if os.environ.get("OTEL_LOGS_EXPORTER", "otlp").strip().lower() == "none":
        return False
    return bool(
        os.environ.get("OTEL_EXPORTER_OTLP_ENDPOINT")
        or os.environ.get("OTEL_EXPORTER_OTLP_LOGS_ENDPOINT")
    )


access_log = logging.getLogger("rescue.access")
# Probes and scrapes come every few seconds from machines: not worth a line each.
_QUIET_ROUTES = frozenset({"/health/live", "/health/ready", "/metrics"})


def log_access(method: str, route: str, status: int, started: float) -> None:
    """The access line of one answered request: the route template, never the path
    as sent (ids) nor its query string (names, phone numbers)."""
    level = logging.DEBUG if route in _QUIET_ROUTES else logging.INFO
    if not access_log.isEnabledFor(level):
        return
    duration_ms = round((time.perf_counter() - started) * 1000, 1)
    # The record made directly: Logger.log would walk the request's deep stack for a
    # caller (always this function) that no handler of ours writes out.
    record = access_log.makeRecord(
        access_log.name,
        level,
        __file__,
        0,
        "%s %s %s",
        (method, route, status),
        None,
        "log_access",
        extra={"method": method, "route": route, "status": status, "duration_ms": duration_ms},
    )
    access_log.handle(record)


def trace_exemplar() -> dict[str, str] | None:
    """The current trace as a metric exemplar, if its spans are recorded (an
    exemplar of an unrecorded trace would link to nothing)."""
    context = trace.get_current_span().get_span_context()
    if not (context.is_valid and context.trace_flags.sampled):
        return None
    return {
        "trace_id": format(context.trace_id, "032x"),
        "span_id": format(context.span_id, "016x"),
    }


def configure_tracing(service: str) -> TracerProvider:
    exporting = exporting_spans()
    provider = TracerProvider(
        resource=_resource(service),
        # None: the SDK's choice from OTEL_TRACES_SAMPLER. ALWAYS_OFF still gives
        # every span valid ids (continuing the caller's trace), just no recording.
        sampler=None if exporting else ALWAYS_OFF,
    )
    if exporting:
        provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter()))
    trace.set_tracer_provider(provider)
    return provider


def exporting_spans() -> bool:
    return bool(
        os.environ.get("OTEL_EXPORTER_OTLP_ENDPOINT")
        or os.environ.get("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT")
    )


def spans_recorded() -> bool:
    """Whether this process records spans: not under ``configure_tracing``'s
    ALWAYS_OFF (no exporter); under any other provider (an exporter's, a test's), yes."""
    return getattr(trace.get_tracer_provider(), "sampler", None) is not ALWAYS_OFF


_UNTRACED_PATHS = frozenset({"/health/live", "/health/ready"})


class _ScopeHeaders(Getter):
    """A propagator's view of an ASGI scope's headers (names are lower-case bytes)."""

    def get(self, carrier: list, key: str) -> list[str] | None:
        name = key.lower().encode("latin-1")
        return [value.decode("latin-1") for k, value in carrier if k == name] or None

    def keys(self, carrier: list) -> list[str]:
        return [k.decode("latin-1") for k, _ in carrier]


_SCOPE_HEADERS = _ScopeHeaders()


class RequestSpan:
    """The request's server span where no span is recorded: its ids continue the
    caller's trace (``traceparent``) into the logs, the events' headers and outgoing
    calls, as the FastAPI instrumentation's would, without the attributes, route
    details and wrapped messages it computes for a span nobody keeps. Pure ASGI."""

    def __init__(self, app, tracer_provider: trace.TracerProvider | None = None) -> None:
        self.app = app
        self.tracer = trace.get_tracer("rescue_chassis.telemetry", tracer_provider=tracer_provider)

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] != "http" or scope["path"] in _UNTRACED_PATHS:
            await self.app(scope, receive, send)
            return
        parent = propagate.extract(scope["headers"], getter=_SCOPE_HEADERS)
        span = self.tracer.start_span(scope["method"], context=parent, kind=SpanKind.SERVER)
        with trace.use_span(span, end_on_exit=True):
            await self.app(scope, receive, send)


def instrument(app, engine) -> None:
    # Requests and outgoing calls always: their spans carry the trace ids into the
    # logs and the events' headers, recorded or not.
    if spans_recorded():
        # One server span per request, without an internal span for each ASGI message
        # received and sent (three more per request, made and dropped even unrecorded).
        FastAPIInstrumentor.instrument_app(
            app, excluded_urls="health/live,health/ready", exclude_spans=["receive", "send"]
        )
    else:
        app.add_middleware(RequestSpan)  # the same ids, a fraction of the CPU
    HTTPXClientInstrumentor().instrument()
    if exporting_spans():
        # A span per SQL statement only where spans go somewhere: unrecorded, its
        # hooks on every statement are CPU for nothing. The instrumentation
        # declares support up to SQLAlchemy 2.0; its hooks work on 2.1.
        SQLAlchemyInstrumentor().instrument(engine=engine.sync_engine, skip_dep_check=True)
