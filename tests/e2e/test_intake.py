"""Intake on the real network: consent, stays and discharge, incidents, the
long-stay timer, station views (issue 3)."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest
from journeys import events_for
from support import poll, query, station_client, wait_for_more_sweeps

pytestmark = pytest.mark.e2e

INTAKE_EVENTS = "rescue.intake.events"
PATROL = {
    "escorting_unit": "固始县城市管理局",
    "officer": "刘队长",
    "reference_number": "CG-2026-0042",
    "found_place": "固始县人民广场",
    "found_at": "2026-11-23T06:10:00+08:00",
}


def admit(network, urls, station="gushi", **body) -> dict:
    with station_client(network, station) as staff:
        admitted = staff.post(
            f"{urls['intake']}/persons",
            json={"arrival_route": "own_request", "sex": "male", **body},
        )
        assert admitted.status_code == 201, admitted.text
        return admitted.json()


def intake_events(network, person_id: str, until) -> list[tuple[str, dict]]:
    return events_for(network, person_id, until, topic=INTAKE_EVENTS, field="person_id")


def test_escorting_a_capable_adult_without_consent_is_refused_and_nothing_is_written(network, urls):
    body = {"arrival_route": "street_patrol", "sex": "male", "estimated_age": 45}
    with station_client(network) as gushi:
        before = query(network, "intake", "select count(*) from persons")[0][0]
        no_record = gushi.post(f"{urls['intake']}/persons", json=body)
        assert no_record.status_code == 422
        assert no_record.json()["errors"][0]["field"] == "handover"
        no_consent = gushi.post(f"{urls['intake']}/persons", json={**body, "handover": PATROL})
        assert no_consent.status_code == 422
        assert no_consent.headers["content-type"] == "application/problem+json"
        assert no_consent.json()["errors"][0]["field"] == "consent_given"
        assert query(network, "intake", "select count(*) from persons")[0][0] == before
        # a person with dementia is escorted without it
        escorted = gushi.post(
            f"{urls['intake']}/persons",
            json={**body, "handover": PATROL, "categories": ["dementia"]},
        )
        assert escorted.status_code == 201
        assert escorted.json()["stays"][0]["handover"]["reference_number"] == "CG-2026-0042"


def test_a_discharge_ends_the_stay_and_a_return_starts_a_second_one_elsewhere(network, urls):
    person = admit(network, urls, estimated_age=60, dialect="四川话")
    url = f"{urls['intake']}/persons/{person['id']}"
    with station_client(network, "gushi") as gushi, station_client(network, "xixian") as xixian:
        busy = xixian.post(f"{url}/stays", json={"arrival_route": "own_request"})
        assert busy.status_code == 409  # still in gushi
        vague = gushi.post(f"{url}/discharge", json={"reason": "transferred"})
        assert vague.status_code == 422
        assert vague.json()["errors"][0]["field"] == "transferred_to"
        assert xixian.post(f"{url}/discharge", json={"reason": "left"}).status_code == 404
        left = gushi.post(f"{url}/discharge", json={"reason": "left", "note": "自行离站，已劝导"})
        assert left.status_code == 200, left.text
        assert left.json()["status"] == "discharged"
        assert gushi.post(f"{url}/discharge", json={"reason": "left"}).status_code == 409

        back = xixian.post(f"{url}/stays", json={"arrival_route": "own_request"})
        assert back.status_code == 201, back.text
    record = back.json()
    assert (record["station_id"], record["status"]) == ("xixian", "in_station")
    assert [(s["sequence"], s["station_id"], s["discharge_reason"]) for s in record["stays"]] == [
        (1, "gushi", "left"),
        (2, "xixian", None),
    ]
    found = intake_events(network, person["id"], lambda found: len(found) >= 3)
    assert [kind for kind, _ in found] == [
        "person_admitted",
        "person_discharged",
        "person_admitted",
    ]
    assert found[2][1]["stay_sequence"] == 2 and found[2][1]["station_id"] == "xixian"
    assert found[1][1]["reason"] == "left"


def test_incidents_go_out_at_once_and_a_death_ends_the_stay(network, urls):
    missing = admit(network, urls, estimated_age=80, categories=["elderly", "dementia"])
    dead = admit(network, urls, estimated_age=77)
    now = datetime.now(UTC)
    with station_client(network) as gushi:
        future = gushi.post(
            f"{urls['intake']}/persons/{missing['id']}/incidents",
            json={
                "kind": "missing",
                "occurred_at": (now + timedelta(hours=1)).isoformat(),
                "description": "x",
            },
        )
        assert future.status_code == 422
        gone = gushi.post(
            f"{urls['intake']}/persons/{missing['id']}/incidents",
            json={
                "kind": "missing",
                "occurred_at": now.isoformat(),
                "description": "夜间查房发现不在床位，已报警并调取监控",
            },
        )
        assert gone.status_code == 201, gone.text
        assert gone.json()["status"] == "missing"
        died = gushi.post(
            f"{urls['intake']}/persons/{dead['id']}/incidents",
            json={
                "kind": "death",
                "occurred_at": now.isoformat(),
                "description": "突发心梗，抢救无效",
            },
        )
        assert died.status_code == 201
        assert died.json()["status"] == "discharged"
        assert died.json()["stays"][0]["discharge_reason"] == "died"
        missing_now = gushi.get(
            f"{urls['intake']}/station/persons", params={"status": "missing"}
        ).json()
        assert missing["id"] in {p["id"] for p in missing_now}

    found = intake_events(network, missing["id"], lambda found: len(found) >= 2)
    assert found[1][0] == "incident_reported" and found[1][1]["kind"] == "missing"
    found = intake_events(network, dead["id"], lambda found: len(found) >= 3)
    assert [kind for kind, _ in found] == [
        "person_admitted",
        "incident_reported",
        "person_discharged",
    ]


def test_day_91_unidentified_raises_long_stay_reached_exactly_once_across_a_restart(network, urls):
    person = admit(network, urls, estimated_age=50)
    known = admit(network, urls, estimated_age=50, full_name="王某")
    # a name typed at intake is only a claim (issue 25): known as search's confirmation
    # leaves the record (intake's identity_confirmed consumer)
    query(
        network,
        "intake",
        "update persons set identity_status = 'confirmed', full_name = claimed_name,"
        " identity_confirmed_at = now() where id = $1::uuid",
        known["id"],
    )
    long_ago = datetime.now(UTC) - timedelta(days=91)
    for p in (person, known):
        query(
            network,
            "intake",
            "update stays set arrived_at = $2 where person_id = $1::uuid",
            p["id"],
            long_ago,
        )

    def reached():
        return query(
            network,
            "intake",
            "select long_stay_reached_at from stays where person_id = $1::uuid",
            person["id"],
        )[0][0]

    poll(reached)
    intake = network.services["intake"]
    intake.kill()  # SIGKILL, then back: the timer lives in the database
    intake.start()
    intake.wait_ready()
    wait_for_more_sweeps(network, urls["intake"], "long-stay")

    def long_stays(found):
        return [p for kind, p in found if kind == "long_stay_reached"]

    found = intake_events(network, person["id"], lambda found: long_stays(found))
    assert len(long_stays(found)) == 1
    assert long_stays(found)[0]["arrived_at"].startswith(str(long_ago.date())[:7])
    # a person whose identity is known is not a long stay
    assert (
        query(
            network,
            "intake",
            "select long_stay_reached_at from stays where person_id = $1::uuid",
            known["id"],
        )[0][0]
        is None
    )
    with station_client(network) as gushi:
        listed = gushi.get(
            f"{urls['intake']}/station/persons",
            params={"min_days": 90, "identity_status": "unknown"},
        ).json()
        assert person["id"] in {p["id"] for p in listed}
        assert all(p["days_in_station"] >= 90 for p in listed)


def test_station_views_timeline_and_summary(network, urls):
    person = admit(network, urls, estimated_age=9, categories=["minor"])
    with station_client(network) as gushi, station_client(network, "center") as center:
        minors = gushi.get(f"{urls['intake']}/station/persons", params={"category": "minor"}).json()
        assert person["id"] in {p["id"] for p in minors}
        assert all("minor" in p["categories"] for p in minors)
        elsewhere = center.get(
            f"{urls['intake']}/station/persons", params={"station_id": "gushi", "category": "minor"}
        ).json()
        assert person["id"] in {p["id"] for p in elsewhere}
        gushi.post(
            f"{urls['intake']}/persons/{person['id']}/discharge",
            json={"reason": "returned_home", "note": "父母接回"},
        ).raise_for_status()
        timeline = gushi.get(f"{urls['intake']}/persons/{person['id']}/timeline").json()
        assert [e["what"] for e in timeline] == ["arrived", "admitted", "discharged: returned_home"]
        today = date.today()
        period = {
            "period_start": str(today - timedelta(days=1)),
            "period_end": str(today + timedelta(days=1)),
        }
        rows = gushi.get(f"{urls['intake']}/station/summary", params=period).json()
        assert [r["station_id"] for r in rows] == ["gushi"]
        assert rows[0]["admissions"] >= 1 and rows[0]["discharges"]["returned_home"] >= 1
        network_rows = center.get(f"{urls['intake']}/station/summary", params=period).json()
        assert {r["station_id"] for r in network_rows} == {"center", "gushi", "guangshan", "xixian"}
        backwards = gushi.get(
            f"{urls['intake']}/station/summary",
            params={"period_start": str(today), "period_end": str(today - timedelta(days=2))},
        )
        assert backwards.status_code == 422


def test_a_death_in_outsourced_care_ends_the_placement_and_keeps_the_belongings(network, urls):
    started = datetime.now(UTC) - timedelta(days=3)
    person = admit(
        network, urls, estimated_age=88, arrived_at=(started - timedelta(days=1)).isoformat()
    )
    url = f"{urls['intake']}/persons/{person['id']}"
    with station_client(network) as gushi:
        gushi.post(
            f"{url}/belongings", json={"items": [{"description": "棉袄", "quantity": 1}]}
        ).raise_for_status()
        gushi.post(
            f"{url}/outsourced-care",
            json={
                "institution": "固始县社会福利院",
                "address": "固始县城关镇福利路8号",
                "started_at": started.isoformat(),
                "reason": "需长期护理",
                "health_status": "卧床",
            },
        ).raise_for_status()
        died = gushi.post(
            f"{url}/incidents",
            json={
                "kind": "death",
                "occurred_at": datetime.now(UTC).isoformat(),
                "description": "托养机构报告：夜间病逝",
            },
        )
        assert died.status_code == 201, died.text
        assert died.json()["stays"][0]["discharge_reason"] == "died"
        [placement] = gushi.get(f"{url}/outsourced-care").json()
        assert placement["ended_at"] is not None
        [coat] = gushi.get(f"{url}/belongings").json()
        assert coat["returned_at"] is None and "家属" in coat["return_note"]
