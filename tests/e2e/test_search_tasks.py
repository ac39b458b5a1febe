"""Search tasks and their deadlines on the real network (issue 4): every case gets
its notice, police-check and DNA tasks; a deadline that passed while search was
down is reported once after the restart."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from journeys import events_for
from support import poll, query, station_client, wait_for_more_sweeps

pytestmark = pytest.mark.e2e


def a_case(network, urls) -> dict:
    with station_client(network) as gushi:
        admitted = gushi.post(
            f"{urls['intake']}/persons", json={"arrival_route": "own_request", "sex": "male"}
        )
        assert admitted.status_code == 201
        person = admitted.json()
        return poll(
            lambda: gushi.get(f"{urls['search']}/cases", params={"person_id": person["id"]}).json()
        )[0]


def test_every_unidentified_admission_gets_its_three_tasks_with_deadlines(network, urls):
    case = a_case(network, urls)
    with station_client(network) as gushi:
        tasks = gushi.get(f"{urls['search']}/cases/{case['id']}/tasks").json()
    arrived = datetime.fromisoformat(case["arrived_at"])
    due = {t["kind"]: datetime.fromisoformat(t["due_at"]) - arrived for t in tasks}
    assert due == {
        "family_search_notice": timedelta(hours=24),
        "police_check": timedelta(hours=24),
        "dna_sample": timedelta(hours=72),
    }
    assert {t["status"] for t in tasks} == {"open"}
    assert not any(t["overdue"] for t in tasks)
    # the station's open tasks in one read (the duty board), not another station's
    with station_client(network) as gushi, station_client(network, "xixian") as xixian:
        mine = gushi.get(f"{urls['search']}/tasks", params={"limit": 2000}).json()
        police = gushi.get(f"{urls['search']}/tasks", params={"kind": "police_check"}).json()
        theirs = xixian.get(f"{urls['search']}/tasks", params={"limit": 2000}).json()
        bad = gushi.get(f"{urls['search']}/tasks", params={"kind": "lunch"})
    assert {t["id"] for t in tasks} <= {t["id"] for t in mine}
    # compared as instants: "19:43:00Z" sorts after "19:43:00.3Z" as text
    due_times = [datetime.fromisoformat(t["due_at"]) for t in mine]
    assert due_times == sorted(due_times)
    assert {t["kind"] for t in police} == {"police_check"}
    assert not {t["id"] for t in tasks} & {t["id"] for t in theirs}
    assert bad.status_code == 422 and bad.json()["errors"][0]["field"] == "query.kind"


def test_a_deadline_passed_during_downtime_is_reported_once_after_restart(network, urls):
    case = a_case(network, urls)
    search = network.services["search"]
    search.kill()  # down, and while it is down the DNA request's deadline passes
    query(
        network,
        "search",
        "update search_tasks set due_at = $2 where case_id = $1::uuid and kind = 'dna_sample'",
        case["id"],
        datetime.now(UTC) - timedelta(minutes=5),
    )
    search.start()
    search.wait_ready()
    # it keeps sweeping; the deadline stays reported once
    wait_for_more_sweeps(network, urls["search"], "search-deadlines")

    def overdue(found):
        return [p for kind, p in found if kind == "search_task_overdue"]

    found = events_for(
        network,
        case["person_id"],
        lambda found: overdue(found),
        topic="rescue.search.events",
        field="person_id",
    )
    assert [(p["kind"], p["case_id"]) for p in overdue(found)] == [("dna_sample", case["id"])]
    with station_client(network) as gushi:
        late = gushi.get(f"{urls['search']}/overdue", params={"kind": "dna_sample"}).json()
        assert case["id"] in {t["case_id"] for t in late}
        mine = [t for t in late if t["case_id"] == case["id"]]
        assert mine[0]["overdue_at"] is not None
    with station_client(network, "xixian") as xixian:
        theirs = xixian.get(f"{urls['search']}/overdue").json()
        assert case["id"] not in {t["case_id"] for t in theirs}


def test_the_case_remembers_sex_and_age_so_police_checks_need_not_repeat_them(network, urls):
    with station_client(network) as gushi:
        admitted = gushi.post(
            f"{urls['intake']}/persons",
            json={"arrival_route": "own_request", "sex": "female", "estimated_age": 33},
        ).json()
        case = poll(
            lambda: gushi.get(
                f"{urls['search']}/cases", params={"person_id": admitted["id"]}
            ).json()
        )[0]
        asked = gushi.post(
            f"{urls['search']}/cases/{case['id']}/police-checks", json={"agency_id": "gushi-police"}
        )
        assert asked.status_code == 201, asked.text
    found = events_for(
        network,
        admitted["id"],
        lambda found: found,
        topic="rescue.partner.police",
        field="person_id",
    )
    request = found[0][1]
    assert (request["sex"], request["estimated_age"]) == ("female", 33)
