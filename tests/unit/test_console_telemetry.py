"""The console's traces and metrics (rescue_console.telemetry): a page's trace goes on
into the services it calls, and /metrics counts pages and calls by their templates."""

from __future__ import annotations

import re

import httpx
import pytest
from fastapi.testclient import TestClient
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind

from rescue_console.app import create_app
from rescue_console.settings import ConsoleSettings
from rescue_console.telemetry import path_template

SECRET = "console-telemetry-secret-" + "k" * 30
PERSON_ID = "7f1c2d4e-0000-4000-8000-000000000001"
TRACE_ID = "4bf92f3577b34da6a3ce929d0e0e4736"
PARENT = f"00-{TRACE_ID}-00f067aa0ba902b7-01"
SUBJECT = "张三"


def settings() -> ConsoleSettings:
    urls = {
        f"{n}_url": f"http://{n}.test"
        for n in ("intake", "search", "transfer", "referral", "followup")
    }
    return ConsoleSettings(**urls, dev_jwt_secret=SECRET, cookie_secure=False)


class FakeServices:
    """Keeps what the console sent; the person page's calls answer 404."""

    def __init__(self) -> None:
        self.sent: list[httpx.Request] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.sent.append(request)
        if request.url.path.startswith("/persons/"):
            return httpx.Response(404, json={"title": "Not Found", "status": 404})
        return httpx.Response(200, json=[])


@pytest.fixture
def services():
    return FakeServices()


@pytest.fixture
def spans():
    return InMemorySpanExporter()


@pytest.fixture
def client(services, spans):
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(spans))
    app = create_app(settings(), transport=httpx.MockTransport(services), tracer_provider=provider)
    with TestClient(app, base_url="http://console.test") as client:
        yield client


@pytest.fixture
def untraced_client(services, monkeypatch):
    """As deployed without a collector: the services' tracing, recording nothing."""
    monkeypatch.delenv("OTEL_EXPORTER_OTLP_ENDPOINT", raising=False)
    monkeypatch.delenv("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", raising=False)
    app = create_app(settings(), transport=httpx.MockTransport(services))
    with TestClient(app, base_url="http://console.test") as client:
        yield client


def sign_in(client) -> None:
    page = client.get("/signin")
    csrf = re.search(r'name="csrf" value="([^"]+)"', page.text).group(1)
    signed = client.post(
        "/signin",
        data={"csrf": csrf, "station_id": "gushi", "roles": "station_staff", "subject": SUBJECT},
        follow_redirects=False,
    )
    assert signed.status_code == 303, signed.text


def samples(client) -> dict[tuple[str, frozenset], float]:
    """(name, labels) -> value of every sample /metrics shows."""
    answer = client.get("/metrics")
    assert answer.status_code == 200
    assert answer.headers["content-type"].startswith("text/plain")
    found = {}
    for line in answer.text.splitlines():
        if not line or line.startswith("#"):
            continue
        match = re.fullmatch(r"(\w+)(?:\{(.*)\})? (\S+)", line)
        labels = frozenset(re.findall(r'(\w+)="((?:[^"\\]|\\.)*)"', match[2] or ""))
        found[(match[1], labels)] = float(match[3])
    return found


def value(found, name: str, **labels: str) -> float:
    return found.get((name, frozenset(labels.items())), 0.0)


def test_a_page_records_its_latency_under_the_route_template(client):
    sign_in(client)
    before = samples(client)
    assert client.get(f"/persons/{PERSON_ID}").status_code in (200, 404)
    after = samples(client)

    page = {"service": "console", "method": "GET", "route": "/persons/{person_id}"}
    name = "rescue_http_request_duration_seconds_count"
    assert value(after, name, **page) == value(before, name, **page) + 1
    # the calls it made, by service and path template
    call = {"service": "intake", "method": "GET", "route": "/persons/{id}"}
    assert value(after, "rescue_console_service_call_duration_seconds_count", **call) >= 1
    refused = {"service": "intake", "status": "404"}
    assert value(after, "rescue_console_service_refusals_total", **refused) >= 1


def test_no_label_names_a_person_or_a_user(client):
    sign_in(client)
    client.get(f"/persons/{PERSON_ID}")
    text = client.get("/metrics").text
    assert "rescue_console_service_call_duration_seconds_count" in text
    assert PERSON_ID not in text
    assert SUBJECT not in text and "gushi" not in text


def test_the_sessions_held_are_counted(client):
    assert value(samples(client), "rescue_console_sessions") == 0
    sign_in(client)
    assert value(samples(client), "rescue_console_sessions") == 1


def test_an_unreachable_service_counts_as_unreachable(spans):
    def away(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("refused", request=request)

    app = create_app(settings(), transport=httpx.MockTransport(away))
    with TestClient(app, base_url="http://console.test") as client:
        sign_in(client)
        client.get("/board")
        found = samples(client)
    refused = {"service": "intake", "status": "unreachable"}
    assert value(found, "rescue_console_service_refusals_total", **refused) >= 1


def test_the_call_carries_the_pages_trace_to_the_service(client, services, spans):
    sign_in(client)
    services.sent.clear()
    spans.clear()
    client.get("/board", headers={"traceparent": PARENT})

    assert services.sent, "the board called no service"
    for request in services.sent:
        version, trace_id, parent_id, _flags = request.headers["traceparent"].split("-")
        assert trace_id == TRACE_ID, request.url

    finished = spans.get_finished_spans()
    (page,) = [s for s in finished if s.kind == SpanKind.SERVER]
    assert page.name == "GET /board"
    assert format(page.context.trace_id, "032x") == TRACE_ID
    calls = [s for s in finished if s.kind == SpanKind.CLIENT]
    assert len(calls) == len(services.sent)
    assert all(c.parent.span_id == page.context.span_id for c in calls)
    by_name = {c.name: c for c in calls}
    assert by_name["GET /station/persons"].attributes["peer.service"] == "intake"
    assert by_name["GET /revisits/overdue"].attributes["peer.service"] == "followup"
    # the service's server span will be the child of the console's client span
    sent_parents = {r.headers["traceparent"].split("-")[2] for r in services.sent}
    assert sent_parents == {format(c.context.span_id, "016x") for c in calls}


def test_without_a_collector_the_trace_still_goes_on(untraced_client, services):
    sign_in(untraced_client)
    services.sent.clear()
    untraced_client.get("/board", headers={"traceparent": PARENT})
    assert services.sent
    assert {r.headers["traceparent"].split("-")[1] for r in services.sent} == {TRACE_ID}


def test_health_and_readiness(client):
    assert client.get("/health/live").json() == {"status": "ok"}
    ready = client.get("/health/ready")
    assert ready.status_code == 200 and ready.json() == {"status": "ready"}


@pytest.mark.parametrize(
    ("path", "template"),
    [
        (f"/persons/{PERSON_ID}/photos", "/persons/{id}/photos"),
        ("/station/persons", "/station/persons"),
        ("/review-queue", "/review-queue"),
        ("/cases/C-2026-00017/tasks?status=open", "/cases/{id}/tasks"),
        ("/persons/王建国", "/persons/{id}"),
    ],
)
def test_service_paths_become_templates(path, template):
    assert path_template(path) == template
