"""Missed deadlines and long stays escalate to the center on the real network
(issue 25): the center coordinator's list, `deadline_escalated` on search's topic
for partners, `rescue_escalations_open` on /metrics, the acknowledgement; a
hospital placement open longer than 30 days is flagged by intake and escalated."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import httpx
import pytest
from journeys import events_for
from prometheus_client.parser import text_string_to_metric_families
from support import poll, query, station_client

pytestmark = pytest.mark.e2e

SEARCH_EVENTS = "rescue.search.events"
INTAKE_EVENTS = "rescue.intake.events"
CENTER = ("center_coordinator",)


def open_escalations(url: str) -> dict[tuple[str, str], float]:
    """rescue_escalations_open by (station, kind), parsed as Prometheus does."""
    text = httpx.get(f"{url}/metrics", timeout=10).text
    return {
        (s.labels["station"], s.labels["kind"]): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
        if s.name == "rescue_escalations_open"
    }


def test_an_overdue_police_check_reaches_the_center_and_is_acknowledged(network, urls):
    search = urls["search"]
    with station_client(network) as gushi:
        admitted = gushi.post(
            f"{urls['intake']}/persons", json={"arrival_route": "own_request", "sex": "male"}
        )
        assert admitted.status_code == 201, admitted.text
        person_id = admitted.json()["id"]
        case = poll(lambda: gushi.get(f"{search}/cases", params={"person_id": person_id}).json())[0]
    # the police check's deadline passes now (search keeps sweeping every 0.3 s)
    due_at = datetime.now(UTC) - timedelta(minutes=5)
    query(
        network,
        "search",
        "update search_tasks set due_at = $2 where case_id = $1::uuid and kind = 'police_check'",
        case["id"],
        due_at,
    )

    mine = {"person_id": person_id}
    with station_client(network, "center", CENTER) as center:
        [escalation] = poll(lambda: center.get(f"{search}/escalations", params=mine).json())
        assert (escalation["kind"], escalation["station_id"], escalation["case_id"]) == (
            "police_check_overdue",
            "gushi",
            case["id"],
        )
        assert escalation["status"] == "open" and escalation["acknowledged_by"] is None
        assert datetime.fromisoformat(escalation["due_at"]) == due_at

    # on search's topic for partners, once
    def escalated(found):
        return [p for kind, p in found if kind == "deadline_escalated"]

    found = events_for(network, person_id, escalated, topic=SEARCH_EVENTS, field="person_id")
    [event] = escalated(found)
    assert (event["escalation_id"], event["kind"]) == (escalation["id"], "police_check_overdue")

    # on /metrics while it is open
    assert open_escalations(search)[("gushi", "police_check_overdue")] >= 1

    # the station sees its own; another satellite does not
    with station_client(network) as gushi, station_client(network, "xixian") as xixian:
        assert [e["id"] for e in gushi.get(f"{search}/escalations", params=mine).json()] == [
            escalation["id"]
        ]
        assert xixian.get(f"{search}/escalations", params=mine).json() == []
        # only the center acknowledges
        url = f"{search}/escalations/{escalation['id']}/acknowledgement"
        assert gushi.post(url, json={}).status_code == 403

    with station_client(network, "center", CENTER) as center:
        acknowledged = center.post(url, json={"note": "已电话督促固始站当日完成核查"})
        assert acknowledged.status_code == 200, acknowledged.text
        assert acknowledged.json()["status"] == "acknowledged"
        assert acknowledged.json()["acknowledged_by"]
        again = center.post(url, json={})
        assert again.status_code == 409
        assert again.headers["content-type"] == "application/problem+json"
        still_open = center.get(f"{search}/escalations", params={**mine, "status": "open"}).json()
        assert still_open == []
        refused = center.get(f"{search}/escalations", params={"kind": "late"})
        assert refused.status_code == 422


def test_a_hospital_placement_open_over_30_days_is_escalated_to_the_center(network, urls):
    placed_at = datetime.now(UTC) - timedelta(days=31)
    with station_client(network) as gushi:
        placed = gushi.post(
            f"{urls['intake']}/hospital-placements",
            json={
                "hospital": "信阳市第五人民医院",
                "conditions": ["critical_illness"],
                "placed_at": placed_at.isoformat(),
                "sex": "male",
                "estimated_age": 70,
            },
        )
        assert placed.status_code == 201, placed.text
        placement = placed.json()
    person_id = placement["person_id"]

    # intake flags it once …
    def long_stays(found):
        return [p for kind, p in found if kind == "long_hospital_stay_reached"]

    found = events_for(network, person_id, long_stays, topic=INTAKE_EVENTS, field="person_id")
    [flagged] = long_stays(found)
    assert (flagged["placement_id"], flagged["days"]) == (placement["id"], 30)

    # … and the center sees it on its list
    params = {"person_id": person_id, "kind": "long_hospital_stay"}
    with station_client(network, "center", CENTER) as center:
        [escalation] = poll(
            lambda: center.get(f"{urls['search']}/escalations", params=params).json()
        )
    assert (escalation["source_id"], escalation["station_id"]) == (placement["id"], "gushi")
    assert escalation["status"] == "open"
    marked = query(
        network,
        "intake",
        "select long_stay_reached_at from hospital_placements where id = $1::uuid",
        placement["id"],
    )
    assert marked[0][0] is not None
