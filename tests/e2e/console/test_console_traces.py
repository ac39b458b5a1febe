"""The console's telemetry on the real network: a page's trace runs on into the
services it calls, and /metrics counts the calls by service and path template."""

from __future__ import annotations

import re
import secrets
from collections.abc import Iterator

import httpx
import pytest
from conftest import console_process
from support import poll

pytestmark = pytest.mark.e2e

# What the board asks, by the service that answers (their server spans' names).
BOARD_CALLS = {
    ("intake", "GET /station/persons"),
    ("search", "GET /cases"),
    ("search", "GET /review-queue"),
    ("followup", "GET /revisits/overdue"),
}


@pytest.fixture(scope="module")
def traced_console(network, otlp, tmp_path_factory) -> Iterator[str]:
    """A console exporting its spans where the services export theirs."""
    with console_process(
        network,
        tmp_path_factory.mktemp("traced-console"),
        CONSOLE_COOKIE_SECURE="false",  # httpx keeps no Secure cookie over http
        OTEL_EXPORTER_OTLP_ENDPOINT=otlp.url,
        OTEL_BSP_SCHEDULE_DELAY="100",
        # room for a busy minute's spans and logs: a full queue drops them silently
        OTEL_BSP_MAX_QUEUE_SIZE="65536",
        OTEL_BLRP_MAX_QUEUE_SIZE="65536",
    ) as url:
        yield url


@pytest.fixture
def desk_client(traced_console):
    with httpx.Client(base_url=traced_console, timeout=30) as client:
        page = client.get("/signin")
        csrf = re.search(r'name="csrf" value="([^"]+)"', page.text).group(1)
        signed = client.post(
            "/signin",
            data={
                "csrf": csrf,
                "station_id": "gushi",
                "roles": "station_staff",
                "subject": "trace-desk",
            },
        )
        assert signed.status_code == 303, signed.text
        yield client


def test_a_board_page_and_the_services_it_calls_are_one_trace(desk_client, otlp):
    trace_id, browser_span = secrets.token_hex(16), secrets.token_hex(8)
    board = desk_client.get("/board", headers={"traceparent": f"00-{trace_id}-{browser_span}-01"})
    assert board.status_code == 200

    def every_call_reported():
        spans = otlp.trace(trace_id)
        answered = {(s["service"], s["name"]) for s in spans if s["service"] != "console"}
        pages = [s for s in spans if s["service"] == "console" and s["name"] == "GET /board"]
        return spans if BOARD_CALLS <= answered and pages else None

    try:
        spans = poll(every_call_reported, timeout=120)  # five exporters' batches, on a busy machine
    except AssertionError:
        arrived = sorted({(s["service"], s["name"]) for s in otlp.trace(trace_id)})
        raise AssertionError(f"the trace has {arrived}, the board calls {BOARD_CALLS}") from None
    by_id = {s["span_id"]: s for s in spans}
    (page,) = [s for s in spans if s["service"] == "console" and s["name"] == "GET /board"]
    assert page["parent_span_id"] == browser_span
    for service, name in BOARD_CALLS:
        (answer,) = [s for s in spans if (s["service"], s["name"]) == (service, name)]
        # the service's span hangs under the console's call, which hangs under the page
        call = by_id[answer["parent_span_id"]]
        assert call["service"] == "console" and call["name"] == name, call
        assert call["parent_span_id"] == page["span_id"]


def test_metrics_count_the_calls_by_service_and_path_template(desk_client):
    desk_client.get("/board")
    text = desk_client.get("/metrics").text
    counts = dict(
        re.findall(
            r'^rescue_console_service_call_duration_seconds_count\{method="GET",'
            r'route="([^"]+)",service="intake"\} (\S+)$',
            text,
            re.MULTILINE,
        )
    )
    assert float(counts["/station/persons"]) >= 1
    assert re.search(
        r'^rescue_http_request_duration_seconds_count\{method="GET",route="/board",'
        r'service="console"\} [1-9]',
        text,
        re.MULTILINE,
    )
    assert "trace-desk" not in text
