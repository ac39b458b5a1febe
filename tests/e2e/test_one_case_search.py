"""One person, one case, on the real network (issue 25), search's side: the case
follows its person to the station that has them now (the earlier station keeps
reading it), every ending of a stay has its rules for tasks and notices, a task
that can no longer be done closes with its reason, and a hospital placement opens
the case with the clock from the placement."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from support import poll, query, station_client

pytestmark = pytest.mark.e2e


def admitted_case(network, urls, station: str = "gushi", **person) -> dict:
    with station_client(network, station) as client:
        admitted = client.post(
            f"{urls['intake']}/persons",
            json={"arrival_route": "own_request", "sex": "male", "dialect": "四川话", **person},
        )
        assert admitted.status_code == 201, admitted.text
        person_id = admitted.json()["id"]
        return poll(
            lambda: client.get(f"{urls['search']}/cases", params={"person_id": person_id}).json()
        )[0]


def published_notice(client, urls, case: dict) -> dict:
    answer = client.post(
        f"{urls['search']}/cases/{case['id']}/notices",
        json={"kind": "national", "sex": "male", "estimated_age": 50},
    )
    assert answer.status_code in (200, 201), answer.text
    (notice,) = answer.json()
    assert notice["status"] == "published"
    return notice


def tasks_of(client, urls, case: dict) -> dict[str, dict]:
    found = client.get(f"{urls['search']}/cases/{case['id']}/tasks")
    assert found.status_code == 200, found.text
    return {t["kind"]: t for t in found.json()}


def notices_of(client, urls, case: dict) -> list[dict]:
    return client.get(f"{urls['search']}/cases/{case['id']}/notices").json()


def discharge(client, urls, case: dict, **body) -> None:
    answer = client.post(f"{urls['intake']}/persons/{case['person_id']}/discharge", json=body)
    assert answer.status_code == 200, answer.text


def case_now(client, urls, case: dict) -> dict:
    return client.get(f"{urls['search']}/cases/{case['id']}").json()


# ---- (a) the case follows the person -----------------------------------------------


def test_a_readmission_elsewhere_keeps_one_case_worked_there_and_read_where_it_was(
    network, urls, notice_site
):
    case = admitted_case(network, urls, stated_names=["老何"])
    with (
        station_client(network, "gushi") as gushi,
        station_client(network, "xixian") as xixian,
        station_client(network, "guangshan") as guangshan,
    ):
        notice = published_notice(gushi, urls, case)
        discharge(gushi, urls, case, reason="returned_home")
        poll(lambda: {n["status"] for n in notices_of(gushi, urls, case)} == {"taken_down"})

        # weeks later he is found again, at xixian: a new stay of the same person
        back = xixian.post(
            f"{urls['intake']}/persons/{case['person_id']}/stays",
            json={"arrival_route": "own_request"},
        )
        assert back.status_code == 201, back.text

        def moved():
            found = xixian.get(
                f"{urls['search']}/cases", params={"person_id": case["person_id"]}
            ).json()
            return found if found and found[0]["station_id"] == "xixian" else None

        [there] = poll(moved)
        assert there["id"] == case["id"]  # one case, not a second
        assert (there["notice_due_at"], there["status"]) == (case["notice_due_at"], "open")

        # the search goes on at xixian: the tasks returned_home closed are open there,
        # with their first deadlines; the notice goes up again, under xixian
        tasks = tasks_of(xixian, urls, case)
        assert {
            (t["status"], t["station_id"]) for k, t in tasks.items() if k != "family_search_notice"
        } == {("open", "xixian")}
        again = poll(
            lambda: [
                n
                for n in notices_of(xixian, urls, case)
                if n["id"] != notice["id"] and n["status"] == "published"
            ]
        )
        assert again[0]["kind"] == "national"
        assert notice_site.received("POST", "/site/notices", notice_id=again[0]["id"])

        # xixian works on it; gushi reads what it did, and writes nothing more
        clue = {"person_said": "说自己在息县打过工"}
        worked = xixian.post(f"{urls['search']}/cases/{case['id']}/clues", json=clue)
        assert worked.status_code == 201, worked.text
        assert gushi.get(f"{urls['search']}/cases/{case['id']}").status_code == 200
        assert gushi.get(f"{urls['search']}/cases/{case['id']}/tasks").status_code == 200
        listed = gushi.get(f"{urls['search']}/cases", params={"person_id": case["person_id"]})
        assert [c["id"] for c in listed.json()] == [case["id"]]
        refused = gushi.post(f"{urls['search']}/cases/{case['id']}/clues", json=clue)
        assert refused.status_code == 404
        # a station the person never was at sees nothing
        assert guangshan.get(f"{urls['search']}/cases/{case['id']}").status_code == 404


def test_a_transfer_inside_the_network_closes_nothing_and_the_case_moves(network, urls):
    """The transfer's admission at xixian (POST /persons/{id}/stays, station_transfer)
    is intake's side of issue 25."""
    case = admitted_case(network, urls)
    with station_client(network, "gushi") as gushi, station_client(network, "xixian") as xixian:
        discharge(gushi, urls, case, reason="transferred", transferred_to_station_id="xixian")
        poll(lambda: case_now(gushi, urls, case).get("ending") == "transferred")
        assert {t["status"] for t in tasks_of(gushi, urls, case).values()} == {"open"}

        arrived = xixian.post(
            f"{urls['intake']}/persons/{case['person_id']}/stays",
            json={
                "arrival_route": "station_transfer",
                "source": {"station_id": "gushi", "transfer_reference": "GS-ZY-2026-101"},
            },
        )
        assert arrived.status_code == 201, arrived.text
        poll(lambda: case_now(xixian, urls, case).get("station_id") == "xixian")
        tasks = tasks_of(xixian, urls, case)
        assert {(t["status"], t["station_id"]) for t in tasks.values()} == {("open", "xixian")}
        assert case_now(xixian, urls, case)["ending"] is None
        assert gushi.get(f"{urls['search']}/cases/{case['id']}").status_code == 200


# ---- (b) every ending has its rules ------------------------------------------------


def test_returned_home_closes_the_tasks_and_takes_the_notice_down(network, urls, notice_site):
    case = admitted_case(network, urls)
    with station_client(network) as gushi:
        notice = published_notice(gushi, urls, case)
        discharge(gushi, urls, case, reason="returned_home")
        poll(lambda: {n["status"] for n in notices_of(gushi, urls, case)} == {"taken_down"})
        tasks = tasks_of(gushi, urls, case)
    assert tasks["family_search_notice"]["status"] == "done"  # the notice went up
    assert {
        (tasks[k]["status"], tasks[k]["closed_reason"]) for k in ("police_check", "dna_sample")
    } == {("cancelled", "returned_home")}
    assert notice_site.received("DELETE", f"/site/notices/{notice['external_id']}")


def test_an_unidentified_person_who_died_is_still_searched_for(network, urls, notice_site):
    """(A settled person is ruled alike: tests/unit/test_search_one_case.py; the
    settlement procedure that allows the ending is intake's.)"""
    case = admitted_case(network, urls)
    with station_client(network) as gushi:
        notice = published_notice(gushi, urls, case)
        discharge(gushi, urls, case, reason="died")
        poll(lambda: case_now(gushi, urls, case).get("ending") == "died")
        tasks = tasks_of(gushi, urls, case)
        # a notice stays up: the deceased-person notice in its place
        # (tests/e2e/test_case_moves.py)
        (still,) = poll(
            lambda: [n for n in notices_of(gushi, urls, case) if n["status"] == "published"]
        )
        assert case_now(gushi, urls, case)["status"] == "open"
    assert (still["purpose"], still["kind"]) == ("deceased", notice["kind"])
    # a DNA sample of the remains and a police check by photo are still possible
    assert {
        (tasks[k]["status"], tasks[k]["closed_reason"]) for k in ("police_check", "dna_sample")
    } == {("open", None)}


def test_a_transfer_outside_the_network_closes_the_tasks_and_keeps_the_notice(
    network, urls, notice_site
):
    case = admitted_case(network, urls)
    with station_client(network) as gushi:
        notice = published_notice(gushi, urls, case)
        discharge(gushi, urls, case, reason="transferred", transferred_to="信阳市精神病医院")
        poll(lambda: case_now(gushi, urls, case).get("ending") == "transferred")
        tasks = tasks_of(gushi, urls, case)
        (still,) = notices_of(gushi, urls, case)
    assert {
        (tasks[k]["status"], tasks[k]["closed_reason"]) for k in ("police_check", "dna_sample")
    } == {("cancelled", "transferred_out")}
    assert still["status"] == "published"
    assert not notice_site.received("DELETE", f"/site/notices/{notice['external_id']}")


def test_a_person_who_left_keeps_the_notice_and_only_the_dna_task_closes(network, urls):
    case = admitted_case(network, urls)
    with station_client(network) as gushi:
        published_notice(gushi, urls, case)
        discharge(gushi, urls, case, reason="left")
        poll(lambda: case_now(gushi, urls, case).get("ending") == "left")
        tasks = tasks_of(gushi, urls, case)
        (still,) = notices_of(gushi, urls, case)
    assert (tasks["dna_sample"]["status"], tasks["dna_sample"]["closed_reason"]) == (
        "cancelled",
        "left",
    )
    assert tasks["police_check"]["status"] == "open"
    assert still["status"] == "published"


# ---- overdue tasks that can no longer be done close --------------------------------


def test_a_protected_persons_notice_task_closes_and_leaves_the_overdue_list(network, urls):
    case = admitted_case(network, urls)
    query(
        network,
        "search",
        "update search_tasks set due_at = $2 where case_id = $1::uuid",
        case["id"],
        datetime.now(UTC) - timedelta(hours=1),
    )
    lead = ("station_lead",)
    with station_client(network) as gushi, station_client(network, "gushi", lead) as gushi_lead:

        def overdue_kinds():
            late = gushi.get(f"{urls['search']}/overdue").json()
            return {t["kind"] for t in late if t["case_id"] == case["id"]}

        assert "family_search_notice" in overdue_kinds()
        marked = gushi_lead.post(
            f"{urls['search']}/cases/{case['id']}/protection",
            json={"endangered": True, "reason": "有人在站外打听其下落,疑似施暴者"},
        )
        assert marked.status_code == 200, marked.text
        assert overdue_kinds() == {"police_check", "dna_sample"}
        notice_task = tasks_of(gushi, urls, case)["family_search_notice"]
        assert (notice_task["status"], notice_task["closed_reason"]) == ("cancelled", "protected")


# ---- (c) a hospital placement opens the case -----------------------------------------


def test_a_hospital_placement_opens_the_case_and_the_admission_finds_it(network, urls):
    placed_at = datetime.now(UTC) - timedelta(days=3)
    with station_client(network) as gushi:
        placed = gushi.post(
            f"{urls['intake']}/hospital-placements",
            json={
                "hospital": "信阳市第四人民医院",
                "conditions": ["mental_illness"],
                "placed_at": placed_at.isoformat(),
                "sex": "female",
                "estimated_age": 40,
                "stated_names": ["秀英"],
            },
        )
        assert placed.status_code == 201, placed.text
        placement = placed.json()
        person_id = placement["person_id"]
        [case] = poll(
            lambda: gushi.get(f"{urls['search']}/cases", params={"person_id": person_id}).json()
        )
        assert case["station_id"] == "gushi"
        assert datetime.fromisoformat(case["arrived_at"]) == placed_at
        assert datetime.fromisoformat(case["notice_due_at"]) == placed_at + timedelta(hours=24)
        assert case["notice_overdue"]  # the hospital days count
        tasks = tasks_of(gushi, urls, case)
        assert datetime.fromisoformat(tasks["dna_sample"]["due_at"]) == placed_at + timedelta(
            hours=72
        )

        out = gushi.post(
            f"{urls['intake']}/hospital-placements/{placement['id']}/discharge", json={}
        )
        assert out.status_code == 201, out.text

        def learned():
            found = gushi.get(f"{urls['search']}/cases", params={"person_id": person_id}).json()
            return found if found and found[0]["stated_names"] else None

        [after] = poll(learned)
        assert after["id"] == case["id"] and "秀英" in after["stated_names"]
        assert after["notice_due_at"] == case["notice_due_at"]  # the clock did not restart
