"""Spans are recorded only where they go somewhere (rescue_chassis.telemetry)."""

from __future__ import annotations

from opentelemetry import propagate, trace

from rescue_chassis import telemetry

PARENT = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"


def test_without_an_exporter_spans_keep_their_ids_but_record_nothing(monkeypatch):
    monkeypatch.delenv("OTEL_EXPORTER_OTLP_ENDPOINT", raising=False)
    monkeypatch.delenv("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", raising=False)
    tracer = telemetry.configure_tracing("intake").get_tracer("test")

    parent = propagate.extract({"traceparent": PARENT})
    with tracer.start_as_current_span("admit", context=parent) as span:
        assert not span.is_recording()
        ids = span.get_span_context()
        assert ids.is_valid  # so the JSON logs still carry them
        assert format(ids.trace_id, "032x") == "4bf92f3577b34da6a3ce929d0e0e4736"
        carrier: dict[str, str] = {}
        propagate.inject(carrier, context=trace.set_span_in_context(span))
    # The next service continues the same trace (as the outbox headers carry it).
    assert carrier["traceparent"].split("-")[1] == "4bf92f3577b34da6a3ce929d0e0e4736"


def test_with_an_exporter_every_trace_is_recorded(monkeypatch):
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_ENDPOINT", "http://127.0.0.1:9")
    provider = telemetry.configure_tracing("intake")
    try:
        with provider.get_tracer("test").start_as_current_span("admit") as span:
            assert span.is_recording()
    finally:
        provider.shutdown()
