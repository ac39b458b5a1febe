"""The console's latency figures lead to their traces (rescue_console.telemetry): a
page's and its service calls' histograms carry the page's trace as an OpenMetrics
exemplar, as the services' do (rescue_chassis.telemetry.trace_exemplar)."""

from __future__ import annotations

import re

import httpx
import pytest
from fastapi.testclient import TestClient
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.sampling import ALWAYS_OFF

from rescue_console.app import create_app
from rescue_console.settings import ConsoleSettings

SECRET = "console-exemplar-secret-" + "k" * 30
PERSON_ID = "7f1c2d4e-0000-4000-8000-000000000001"
TRACE_ID = "4bf92f3577b34da6a3ce929d0e0e4736"
PARENT = f"00-{TRACE_ID}-00f067aa0ba902b7-01"
OPENMETRICS = "application/openmetrics-text; version=1.0.0; charset=utf-8"
PAGE = ("rescue_http_request_duration_seconds", "/persons/{person_id}")
CALL = ("rescue_console_service_call_duration_seconds", "/persons/{id}")


def settings() -> ConsoleSettings:
    urls = {
        f"{n}_url": f"http://{n}.test"
        for n in ("intake", "search", "transfer", "referral", "followup")
    }
    return ConsoleSettings(**urls, dev_jwt_secret=SECRET, cookie_secure=False)


def answer(request: httpx.Request) -> httpx.Response:
    if request.url.path.startswith("/persons/"):
        return httpx.Response(404, json={"title": "Not Found", "status": 404})
    return httpx.Response(200, json=[])


def console(provider: TracerProvider):
    app = create_app(settings(), transport=httpx.MockTransport(answer), tracer_provider=provider)
    return TestClient(app, base_url="http://console.test")


def sign_in(client) -> None:
    page = client.get("/signin")
    csrf = re.search(r'name="csrf" value="([^"]+)"', page.text).group(1)
    signed = client.post(
        "/signin",
        data={"csrf": csrf, "station_id": "gushi", "roles": "station_staff", "subject": "张三"},
        follow_redirects=False,
    )
    assert signed.status_code == 303, signed.text


def exemplars(body: str, metric: str, route: str) -> list[dict[str, str]]:
    """The exemplar labels on the buckets of one histogram series."""
    found = []
    for line in body.splitlines():
        match = re.fullmatch(rf"{metric}_bucket\{{(.*)\}} \S+ # \{{(.*)\}} \S+(?: \S+)?", line)
        if match and f'route="{route}"' in match[1]:
            found.append(dict(re.findall(r'(\w+)="([^"]*)"', match[2])))
    return found


@pytest.fixture
def traced():
    with console(TracerProvider()) as client:
        sign_in(client)
        yield client


def test_the_page_and_its_calls_carry_the_pages_trace(traced):
    assert traced.get(f"/persons/{PERSON_ID}", headers={"traceparent": PARENT}).status_code == 404

    scrape = traced.get("/metrics", headers={"accept": OPENMETRICS})
    assert scrape.headers["content-type"].startswith("application/openmetrics-text")
    for metric, route in (PAGE, CALL):
        found = exemplars(scrape.text, metric, route)
        assert found, f"{metric} has no exemplar:\n{scrape.text}"
        assert {e["trace_id"] for e in found} == {TRACE_ID}
        assert all(re.fullmatch(r"[0-9a-f]{16}", e["span_id"]) for e in found)


def test_prometheus_text_stays_as_it_was(traced):
    traced.get(f"/persons/{PERSON_ID}", headers={"traceparent": PARENT})
    scrape = traced.get("/metrics")
    assert scrape.headers["content-type"].startswith("text/plain")
    assert "rescue_console_service_call_duration_seconds_bucket" in scrape.text
    assert TRACE_ID not in scrape.text  # the text format has no exemplars


def test_an_unrecorded_trace_is_no_exemplar():
    with console(TracerProvider(sampler=ALWAYS_OFF)) as client:
        sign_in(client)
        client.get(f"/persons/{PERSON_ID}", headers={"traceparent": PARENT})
        scrape = client.get("/metrics", headers={"accept": OPENMETRICS})
    assert "rescue_console_service_call_duration_seconds_count" in scrape.text
    for metric, route in (PAGE, CALL):
        assert exemplars(scrape.text, metric, route) == []
