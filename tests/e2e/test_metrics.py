"""Each service's /metrics, scraped as Prometheus would (issue 10)."""

from __future__ import annotations

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families
from support import poll, station_client

import rescue_events.contracts  # noqa: F401  (registers the topics)
from rescue_events.registry import registry

pytestmark = pytest.mark.e2e

SERVICES = ("intake", "search", "transfer", "referral", "followup")
# What each service consumes: its lag series name these topics only.
PARTITIONS = {name: topic.partitions for name, topic in registry.topics.items()}
CONSUMED = {
    # intake also hears the handover (it ends the stay), and a refusal's face candidates
    "intake": {
        "rescue.search.identity",
        "rescue.search.refusal_faces",
        "rescue.transfer.handovers",
    },
    # search: a stay's events in order after the admission; refusals' photos; the police
    "search": {"rescue.intake.stays", "rescue.intake.refusals", "rescue.partner.answers"},
    "transfer": {"rescue.intake.stays", "rescue.search.identity"},
    "referral": {
        "rescue.intake.stays",
        "rescue.intake.incidents",
        "rescue.search.identity",
        "rescue.search.escalations",
        "rescue.followup.help",
        "rescue.partner.answers",
        "rescue.partner.police",  # search's police requests, delivered to the agency asked
        "rescue.transfer.refusals",  # handover refusals, escalated to the civil-affairs bureau
        "rescue.transfer.notices",
    },
    "followup": {
        "rescue.intake.stays",
        "rescue.search.identity",
        "rescue.search.earlier_stays",
        "rescue.transfer.handovers",
        "rescue.inbound.returns",  # other regions' returnees
    },
}


def scrape(url: str) -> dict[str, list]:
    """Samples by name, from the text format, parsed with Prometheus' own parser."""
    response = httpx.get(f"{url}/metrics", timeout=10)
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    samples: dict[str, list] = {}
    for family in text_string_to_metric_families(response.text):
        for sample in family.samples:
            samples.setdefault(sample.name, []).append(sample)
    return samples


def test_every_service_exposes_outbox_backlog_consumer_lag_and_its_work(network, urls):
    with station_client(network) as gushi:
        admitted = gushi.post(
            f"{urls['intake']}/persons", json={"arrival_route": "own_request", "sex": "male"}
        )
        assert admitted.status_code == 201
        person = admitted.json()["id"]
        poll(lambda: gushi.get(f"{urls['search']}/cases", params={"person_id": person}).json())

    for name in SERVICES:
        samples = scrape(urls[name])
        backlog = samples["rescue_outbox_backlog"]
        assert [s.labels for s in backlog] == [{"service": name}]
        assert backlog[0].value >= 0
        assert "rescue_outbox_oldest_age_seconds" in samples
        assert "rescue_dead_letters" in samples
        # once the group has its partitions: one series per partition (one member here)
        lag = poll(lambda n=name: scrape(urls[n]).get("rescue_consumer_lag"))
        assert {s.labels["service"] for s in lag} == {name}
        assert {s.labels["topic"] for s in lag} == CONSUMED[name]
        assert len(lag) == sum(PARTITIONS[topic] for topic in CONSUMED[name])
        assert all(s.value >= 0 for s in lag)

    intake = scrape(urls["intake"])
    admissions = {s.labels["station"]: s.value for s in intake["rescue_admissions_total"]}
    assert admissions["gushi"] >= 1
    requests = [
        s
        for s in intake["rescue_http_requests_total"]
        if s.labels["route"] == "/persons" and s.labels["method"] == "POST"
    ]
    assert requests and requests[0].labels["status"] == "201"
    assert any(
        s.labels["route"] == "/persons"
        for s in intake["rescue_http_request_duration_seconds_count"]
    )
    search = scrape(urls["search"])
    assert {s.labels["station"] for s in search["rescue_open_search_cases"]} >= {"gushi"}
    followup = scrape(urls["followup"])
    runs = {s.labels["sweep"]: s.value for s in followup["rescue_periodic_runs_total"]}
    assert runs["revisit-deadlines"] >= 1


def test_consumer_lag_is_on_the_ops_api_too(network, urls):
    with station_client(network, "center", ["ops"]) as ops:
        lags = poll(lambda: ops.get(f"{urls['search']}/ops/consumer-lag").json())
        assert {"topic", "partition", "committed", "end", "lag"} <= set(lags[0])
        assert all(lag["lag"] >= 0 for lag in lags)
        with station_client(network) as staff:
            assert staff.get(f"{urls['search']}/ops/consumer-lag").status_code == 403
