"""Traces and structured logs for one service process.

Spans go over OTLP/HTTP when ``OTEL_EXPORTER_OTLP_ENDPOINT`` is set (the ops
team's Jaeger or collector), sampled as ``OTEL_TRACES_SAMPLER`` says (the SDK's
default: every trace; SQL statements get spans of their own). Without an endpoint,
spans are not recorded at all and statements get none: trace and span ids are
still made and propagated, so they still appear in the JSON logs and in the
events' headers, but no span is filled only to be dropped.
"""

from __future__ import annotations

import logging
import os
import sys

from opentelemetry import trace
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.instrumentation.fastapi import FastAPIInstrumentor
from opentelemetry.instrumentation.httpx import HTTPXClientInstrumentor
from opentelemetry.instrumentation.sqlalchemy import SQLAlchemyInstrumentor
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor
from opentelemetry.sdk.trace.sampling import ALWAYS_OFF
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
    root.setLevel(level)
    # aiokafka is chatty about every reconnect attempt while the broker is away.
    logging.getLogger("aiokafka").setLevel(max(logging.WARNING, root.level))


def configure_tracing(service: str) -> TracerProvider:
    exporting = exporting_spans()
    provider = TracerProvider(
        resource=Resource.create(
            {
                "service.name": os.environ.get("OTEL_SERVICE_NAME", service),
                "service.namespace": "rescue-network",
            }
        ),
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


def instrument(app, engine) -> None:
    # Requests and outgoing calls always: their spans carry the trace ids into the
    # logs and the events' headers, recorded or not.
    # One server span per request, without an internal span for each ASGI message
    # received and sent (three more per request, made and dropped even unrecorded).
    FastAPIInstrumentor.instrument_app(
        app, excluded_urls="health/live,health/ready", exclude_spans=["receive", "send"]
    )
    HTTPXClientInstrumentor().instrument()
    if exporting_spans():
        # A span per SQL statement only where spans go somewhere: unrecorded, its
        # hooks on every statement are CPU for nothing. The instrumentation
        # declares support up to SQLAlchemy 2.0; its hooks work on 2.1.
        SQLAlchemyInstrumentor().instrument(engine=engine.sync_engine, skip_dep_check=True)
