"""Without an exporter a request's span is the chassis' light one (rescue_chassis.
telemetry.RequestSpan): unrecorded, yet it continues the caller's trace into the
logs, the events' headers and outgoing calls, as the FastAPI instrumentation did."""

from __future__ import annotations

import httpx
from fastapi import FastAPI
from opentelemetry import propagate, trace
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.sampling import ALWAYS_OFF

from rescue_chassis import telemetry

TRACE_ID = "4bf92f3577b34da6a3ce929d0e0e4736"
PARENT = f"00-{TRACE_ID}-00f067aa0ba902b7-01"


def an_app(seen: list[dict]) -> FastAPI:
    # FastAPI's own telemetry off, as rescue_chassis.app builds a service
    app = FastAPI(telemetry={"tracing": False, "metrics": False, "logs": False})

    @app.get("/persons/{person_id}")
    @app.get("/health/ready")
    async def answer() -> dict:
        span = trace.get_current_span()
        carrier: dict[str, str] = {}
        propagate.inject(carrier)  # as the outbox stages an event's trace context
        seen.append({"span": span, "carrier": carrier})
        return {}

    app.add_middleware(telemetry.RequestSpan, tracer_provider=TracerProvider(sampler=ALWAYS_OFF))
    return app


async def ask(app: FastAPI, path: str, **headers: str) -> int:
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://intake") as http:
        return (await http.get(path, headers=headers)).status_code


async def test_a_request_continues_its_callers_trace_without_recording_it():
    seen: list[dict] = []
    assert await ask(an_app(seen), "/persons/1", traceparent=PARENT) == 200
    (request,) = seen
    ids = request["span"].get_span_context()
    assert not request["span"].is_recording()
    assert format(ids.trace_id, "032x") == TRACE_ID  # the logs carry the caller's trace
    assert format(ids.span_id, "016x") != "00f067aa0ba902b7"  # a span of its own
    version, trace_id, span_id, _ = request["carrier"]["traceparent"].split("-")
    assert (trace_id, span_id) == (TRACE_ID, format(ids.span_id, "016x"))


async def test_a_request_without_a_caller_trace_starts_one():
    seen: list[dict] = []
    assert await ask(an_app(seen), "/persons/1") == 200
    ids = seen[0]["span"].get_span_context()
    assert ids.is_valid and format(ids.trace_id, "032x") != TRACE_ID


async def test_probes_get_no_span():
    seen: list[dict] = []
    assert await ask(an_app(seen), "/health/ready", traceparent=PARENT) == 200
    assert not seen[0]["span"].get_span_context().is_valid


def test_the_light_span_only_where_nothing_is_recorded(monkeypatch):
    off, on = TracerProvider(sampler=ALWAYS_OFF), TracerProvider()
    monkeypatch.setattr(telemetry.trace, "get_tracer_provider", lambda: off)
    assert not telemetry.spans_recorded()
    monkeypatch.setattr(telemetry.trace, "get_tracer_provider", lambda: on)
    assert telemetry.spans_recorded()
