"""From a latency figure to its trace and its logs (rescue_chassis.metrics, .telemetry):
the request-duration histogram carries the trace of a traced request as an
OpenMetrics exemplar, and each request leaves one access line with its trace id,
its route template and no query string, on stderr and over OTLP."""

from __future__ import annotations

import io
import json
import logging
import re
from types import SimpleNamespace

import httpx
import pytest
from fastapi import FastAPI
from opentelemetry import trace
from opentelemetry.instrumentation.fastapi import FastAPIInstrumentor
from opentelemetry.sdk._logs import LoggerProvider
from opentelemetry.sdk._logs.export import InMemoryLogRecordExporter, SimpleLogRecordProcessor
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.sdk.trace.sampling import ALWAYS_OFF

from rescue_chassis import telemetry
from rescue_chassis.metrics import ServiceMetrics

PERSON_ID = "7f1c2d4e-0000-4000-8000-000000000001"
NAME = "张三"
PHONE = "13800138000"
OPENMETRICS = "application/openmetrics-text; version=1.0.0; charset=utf-8"
ROUTE = "/persons/{person_id}"


def service_app(provider: TracerProvider) -> FastAPI:
    """A service's request path as create_app builds it: the metrics middleware
    inside the server span, /metrics beside the routes."""
    app = FastAPI()

    @app.get(ROUTE)
    async def person(person_id: str, name: str = "") -> dict:
        return {"person_id": person_id}

    runtime = SimpleNamespace(
        name="intake",
        periodic=[],
        consumer=None,
        relay=SimpleNamespace(republished_total=0, watch=SimpleNamespace(reachable=True)),
        tables=None,  # no database: the scrape leaves those parts out
        sessions=None,
    )
    ServiceMetrics(runtime, []).install(app)  # type: ignore[arg-type]
    FastAPIInstrumentor.instrument_app(
        app, tracer_provider=provider, exclude_spans=["receive", "send"]
    )
    return app


def recorded() -> tuple[TracerProvider, InMemorySpanExporter]:
    spans = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(spans))
    return provider, spans


async def ask(app: FastAPI, path: str, **headers: str) -> httpx.Response:
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://intake") as http:
        return await http.get(path, headers=headers)


def exemplars(body: str) -> dict[str, dict[str, str]]:
    """le -> exemplar labels of the person route's latency buckets."""
    found = {}
    for line in body.splitlines():
        match = re.fullmatch(
            r"rescue_http_request_duration_seconds_bucket\{(.*)\} \S+ # \{(.*)\} \S+(?: \S+)?",
            line,
        )
        if match and f'route="{ROUTE}"' in match[1]:
            le = re.search(r'le="([^"]+)"', match[1])[1]
            found[le] = dict(re.findall(r'(\w+)="([^"]*)"', match[2]))
    return found


def access_lines(err: str) -> list[dict]:
    lines = [json.loads(line) for line in err.splitlines() if line.startswith("{")]
    return [line for line in lines if line.get("logger") == "rescue.access"]


@pytest.fixture
def json_logs(monkeypatch):
    """The services' JSON logging (no OTLP export), its stderr kept in a buffer."""
    monkeypatch.delenv("OTEL_EXPORTER_OTLP_ENDPOINT", raising=False)
    monkeypatch.delenv("OTEL_EXPORTER_OTLP_LOGS_ENDPOINT", raising=False)
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    telemetry.configure_logging("intake", "INFO")
    (stderr,) = root.handlers
    written = io.StringIO()
    stderr.setStream(written)
    yield written
    root.handlers[:] = handlers
    root.setLevel(level)


async def test_a_traced_request_is_the_exemplar_of_its_latency_bucket(json_logs):
    provider, spans = recorded()
    app = service_app(provider)
    answer = await ask(app, f"/persons/{PERSON_ID}?name={NAME}")
    assert answer.status_code == 200
    (server,) = [s for s in spans.get_finished_spans() if s.kind == trace.SpanKind.SERVER]
    trace_id = format(server.context.trace_id, "032x")

    scrape = await ask(app, "/metrics", accept=OPENMETRICS)
    assert scrape.headers["content-type"].startswith("application/openmetrics-text")
    assert scrape.text.rstrip().endswith("# EOF")
    found = exemplars(scrape.text)
    assert found, scrape.text  # the bucket the request fell in carries it
    assert {e["trace_id"] for e in found.values()} == {trace_id}
    assert {e["span_id"] for e in found.values()} == {format(server.context.span_id, "016x")}

    # Prometheus' classic text (no Accept): the same series, without exemplars
    plain = await ask(app, "/metrics")
    assert plain.headers["content-type"].startswith("text/plain")
    assert "rescue_http_request_duration_seconds_bucket" in plain.text
    assert " # {" not in plain.text


async def test_an_unrecorded_trace_gives_no_exemplar_but_its_ids_stay_in_the_log(json_logs):
    provider = TracerProvider(sampler=ALWAYS_OFF)  # as deployed without a collector
    app = service_app(provider)
    assert (await ask(app, f"/persons/{PERSON_ID}")).status_code == 200
    scrape = await ask(app, "/metrics", accept=OPENMETRICS)
    assert 'route="/persons/{person_id}"' in scrape.text
    assert exemplars(scrape.text) == {}  # it would link to a trace nobody kept
    (line,) = access_lines(json_logs.getvalue())
    assert re.fullmatch(r"[0-9a-f]{32}", line["trace_id"])


async def test_one_access_line_per_request_with_its_trace_and_without_the_query(json_logs):
    provider, spans = recorded()
    app = service_app(provider)
    answer = await ask(app, f"/persons/{PERSON_ID}?name={NAME}&phone={PHONE}")
    assert answer.status_code == 200
    missing = await ask(app, "/nowhere/13800138000")
    assert missing.status_code == 404
    await ask(app, "/metrics")  # scrapes: no line at INFO

    err = json_logs.getvalue()
    person, nowhere = access_lines(err)
    (server, *_) = [s for s in spans.get_finished_spans() if s.kind == trace.SpanKind.SERVER]
    assert person["trace_id"] == format(server.context.trace_id, "032x")
    assert re.fullmatch(r"[0-9a-f]{16}", person["span_id"])
    assert person["service"] == "intake"
    assert (person["method"], person["route"], person["status"]) == ("GET", ROUTE, 200)
    assert person["message"] == f"GET {ROUTE} 200"
    assert isinstance(person["duration_ms"], float) and person["duration_ms"] >= 0
    assert (nowhere["route"], nowhere["status"]) == ("unmatched", 404)
    # no query string, no path as sent: neither the name, the phone nor the id
    for secret in (NAME, PHONE, PERSON_ID, "?", "name="):
        assert secret not in err, secret


async def test_the_access_line_goes_over_otlp_with_its_trace_id():
    exported = InMemoryLogRecordExporter()
    logs = LoggerProvider()
    logs.add_log_record_processor(SimpleLogRecordProcessor(exported))
    handler = telemetry._OtlpLogHandler(logs)
    telemetry.access_log.addHandler(handler)
    level = telemetry.access_log.level
    telemetry.access_log.setLevel(logging.INFO)
    try:
        provider, spans = recorded()
        app = service_app(provider)
        assert (await ask(app, f"/persons/{PERSON_ID}?name={NAME}")).status_code == 200
    finally:
        telemetry.access_log.removeHandler(handler)
        telemetry.access_log.setLevel(level)

    (record,) = [r.log_record for r in exported.get_finished_logs()]
    (server,) = [s for s in spans.get_finished_spans() if s.kind == trace.SpanKind.SERVER]
    # Loki keeps these as structured metadata; Grafana's derived field links the trace
    assert record.trace_id == server.context.trace_id
    assert record.span_id == server.context.span_id
    assert record.body == f"GET {ROUTE} 200"
    attributes = dict(record.attributes)
    assert attributes["route"] == ROUTE and attributes["status"] == 200
    assert attributes["logger"] == "rescue.access"
    assert "trace_id" not in attributes  # once, in the record's own field
    assert NAME not in json.dumps(attributes, ensure_ascii=False)


def test_logs_go_over_otlp_where_spans_do_unless_switched_off(monkeypatch):
    for name in ("OTEL_EXPORTER_OTLP_ENDPOINT", "OTEL_EXPORTER_OTLP_LOGS_ENDPOINT"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.delenv("OTEL_LOGS_EXPORTER", raising=False)
    assert not telemetry.exporting_logs()
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_ENDPOINT", "http://otel-collector:4318")
    assert telemetry.exporting_logs()
    monkeypatch.setenv("OTEL_LOGS_EXPORTER", "none")
    assert not telemetry.exporting_logs()


def test_the_exporters_own_complaints_are_not_exported():
    exported = InMemoryLogRecordExporter()
    logs = LoggerProvider()
    logs.add_log_record_processor(SimpleLogRecordProcessor(exported))
    handler = telemetry._OtlpLogHandler(logs)
    for name in ("opentelemetry.exporter.otlp.proto.http._log_exporter", "rescue.access"):
        handler.handle(logging.makeLogRecord({"name": name, "msg": "x", "levelno": 30}))
    assert [dict(r.log_record.attributes)["logger"] for r in exported.get_finished_logs()] == [
        "rescue.access"
    ]
