"""From a latency exemplar to its trace and its log lines, on the real network
(intake as its own process, exporting over OTLP to the session's receiver): the
request's access line arrives over OTLP with the request's trace and span ids, the
same line is in the JSON log without the query string, and /metrics in OpenMetrics
names the trace as the exemplar of the request's latency bucket."""

from __future__ import annotations

import json
import re
import secrets
import uuid

import httpx
import pytest
from support import poll, station_client

pytestmark = pytest.mark.e2e

NAME = "张三"
PHONE = "13800138000"
OPENMETRICS = "application/openmetrics-text; version=1.0.0; charset=utf-8"


def test_a_request_is_followed_from_its_exemplar_to_its_trace_and_its_lines(network, urls, otlp):
    intake = urls["intake"]
    trace_id, caller_span = secrets.token_hex(16), secrets.token_hex(8)
    with station_client(network) as gushi:
        # a person nobody admitted: the read is answered (404) and logged like any
        read = gushi.get(
            f"{intake}/persons/{uuid.uuid4()}",
            params={"name": NAME, "phone": PHONE},
            headers={"traceparent": f"00-{trace_id}-{caller_span}-01"},
        )
        assert read.status_code == 404

    # the trace: intake's server span continues the caller's
    def server_span():
        spans = [s for s in otlp.trace(trace_id) if s["parent_span_id"] == caller_span]
        return spans[0] if spans else None

    span = poll(server_span)
    assert span["service"] == "intake"

    # its log lines: the access line, over OTLP, inside that span
    def access_line():
        lines = [
            r
            for r in otlp.log_records(trace_id)
            if r["attributes"].get("logger") == "rescue.access"
        ]
        return lines[0] if lines else None

    line = poll(access_line)
    assert line["service"] == "intake"
    assert line["span_id"] == span["span_id"]
    assert line["body"] == "GET /persons/{person_id} 404"
    attributes = line["attributes"]
    assert (attributes["method"], attributes["route"], str(attributes["status"])) == (
        "GET",
        "/persons/{person_id}",
        "404",
    )
    exported = json.dumps(otlp.log_records(trace_id), ensure_ascii=False)
    assert NAME not in exported and PHONE not in exported

    # the same line in the JSON log on stderr, with the ids and without the query
    log_file = network.data_dir / "logs" / "intake.log"

    def in_the_log_file():
        lines = [
            json.loads(text)
            for text in log_file.read_text(encoding="utf-8").splitlines()
            if text.startswith("{") and trace_id in text
        ]
        return [entry for entry in lines if entry.get("logger") == "rescue.access"]

    (logged,) = poll(in_the_log_file)
    assert logged["span_id"] == span["span_id"]
    assert logged["route"] == "/persons/{person_id}" and logged["status"] == 404
    text = log_file.read_text(encoding="utf-8")
    assert NAME not in text and PHONE not in text

    # the exemplar: Prometheus (OpenMetrics) sees the trace on the latency bucket
    scrape = httpx.get(f"{intake}/metrics", headers={"Accept": OPENMETRICS}, timeout=10)
    assert scrape.headers["content-type"].startswith("application/openmetrics-text")
    exemplars = re.findall(
        r'^rescue_http_request_duration_seconds_bucket\{[^}]*route="/persons/\{person_id\}"[^}]*\}'
        r' \S+ # \{[^}]*trace_id="([0-9a-f]{32})"',
        scrape.text,
        re.MULTILINE,
    )
    assert trace_id in exemplars, exemplars
