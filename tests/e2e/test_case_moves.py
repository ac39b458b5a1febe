"""What a notice says follows the person (issue 25), on the real network: a person
who dies unidentified gets a deceased-person notice in place of the notice (the old
one comes down, superseded), which says where the remains are once the burial is
recorded; a case that follows its person to another station of the network is told
on the search topic (`search_case_moved`) and its notice is re-issued naming that
station. Search calls the stand-in website (conftest.NoticeSite) over real HTTP."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest
from journeys import events_for
from support import poll, station_client

pytestmark = pytest.mark.e2e

SEARCH_EVENTS = "rescue.search.events"
CHINA = timezone(timedelta(hours=8))  # the stations' calendar days


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
        json={"kind": "national", "sex": "male", "estimated_age": 70},
    )
    assert answer.status_code == 201, answer.text
    (notice,) = answer.json()
    assert (notice["status"], notice["purpose"]) == ("published", "seeking_family")
    return notice


def notices_of(client, urls, case: dict) -> list[dict]:
    found = client.get(f"{urls['search']}/cases/{case['id']}/notices")
    assert found.status_code == 200, found.text
    return found.json()


def replaced(client, urls, case: dict, old: dict) -> dict:
    """The notice up in place of ``old``, once ``old`` is down."""

    def done():
        found = {n["id"]: n for n in notices_of(client, urls, case)}
        up = [n for n in found.values() if n["status"] == "published"]
        return up if found[old["id"]]["status"] == "taken_down" and len(up) == 1 else None

    return poll(done)[0]


def search_events(network, case: dict, until) -> list[tuple[str, dict]]:
    return events_for(network, case["person_id"], until, topic=SEARCH_EVENTS, field="person_id")


def test_a_person_who_dies_unidentified_gets_a_deceased_notice_in_place(network, urls, notice_site):
    case = admitted_case(network, urls, stated_names=["老周"])
    with station_client(network) as gushi:
        notice = published_notice(gushi, urls, case)
        died = gushi.post(
            f"{urls['intake']}/persons/{case['person_id']}/discharge", json={"reason": "died"}
        )
        assert died.status_code == 200, died.text

        deceased = replaced(gushi, urls, case, notice)
        old = next(n for n in notices_of(gushi, urls, case) if n["id"] == notice["id"])
        assert (old["reason"], old["superseded"]) == ("superseded:deceased", True)
        assert (deceased["purpose"], deceased["kind"], deceased["station_id"]) == (
            "deceased",
            "national",
            "gushi",
        )
        assert "在固始县救助管理站受助期间死亡" in deceased["text"]
        assert "请与固始县救助管理站联系认领" in deceased["text"]
        # the search goes on: a DNA sample of the remains, a police check by photo
        tasks = gushi.get(f"{urls['search']}/cases/{case['id']}/tasks").json()
        assert {t["status"] for t in tasks if t["kind"] != "family_search_notice"} == {"open"}

        # the burial says where the remains are: the notice is re-issued saying it
        buried = gushi.post(
            f"{urls['intake']}/persons/{case['person_id']}/burial",
            json={
                "buried_on": datetime.now(CHINA).date().isoformat(),  # the death's day
                "remains": "cremated_ashes_kept",
                "funeral_home": "固始县殡仪馆",
                "certificate_reference": "豫火化〔2026〕0412号",
                "photo_kept": True,
                "dna_kept": True,
            },
        )
        assert buried.status_code == 201, buried.text
        told = replaced(gushi, urls, case, deceased)
        assert told["purpose"] == "deceased"
        assert "骨灰存放于固始县殡仪馆" in told["text"]

    # the website got the deceased notice, and the old one was taken down there
    (sent,) = notice_site.received("POST", "/site/notices", notice_id=deceased["id"])
    assert (sent[2]["purpose"], sent[2]["title"]) == ("deceased", "死亡人员寻亲公告")
    assert sent[2]["description"]["stated_names"] == ["老周"]
    assert notice_site.received("DELETE", f"/site/notices/{notice['external_id']}")

    def told_on_the_topic(found):
        published = {p["notice_id"]: p for t, p in found if t == "notice_published"}
        down = {p["notice_id"]: p for t, p in found if t == "notice_taken_down"}
        return deceased["id"] in published and notice["id"] in down

    found = search_events(network, case, told_on_the_topic)
    (up,) = [p for t, p in found if t == "notice_published" and p["notice_id"] == deceased["id"]]
    (down,) = [p for t, p in found if t == "notice_taken_down" and p["notice_id"] == notice["id"]]
    assert up["purpose"] == "deceased"
    assert (down["purpose"], down["reason"]) == ("seeking_family", "superseded:deceased")


def test_a_transfer_in_the_network_is_told_and_the_notice_names_the_new_station(
    network, urls, notice_site
):
    case = admitted_case(network, urls)
    with station_client(network, "gushi") as gushi, station_client(network, "xixian") as xixian:
        notice = published_notice(gushi, urls, case)
        out = gushi.post(
            f"{urls['intake']}/persons/{case['person_id']}/discharge",
            json={"reason": "transferred", "transferred_to_station_id": "xixian"},
        )
        assert out.status_code == 200, out.text
        arrived = xixian.post(
            f"{urls['intake']}/persons/{case['person_id']}/stays",
            json={
                "arrival_route": "station_transfer",
                "source": {"station_id": "gushi", "transfer_reference": "GS-ZY-2026-207"},
            },
        )
        assert arrived.status_code == 201, arrived.text
        poll(
            lambda: (
                gushi.get(f"{urls['search']}/cases/{case['id']}").json()["station_id"] == "xixian"
            )
        )

        reissued = replaced(xixian, urls, case, notice)
        assert (reissued["station_id"], reissued["purpose"], reissued["kind"]) == (
            "xixian",
            "seeking_family",
            "national",
        )
        old = next(n for n in notices_of(xixian, urls, case) if n["id"] == notice["id"])
        assert (old["reason"], old["superseded"]) == ("superseded:case_moved", True)

    # a family reading the notice now calls xixian
    (sent,) = notice_site.received("POST", "/site/notices", notice_id=reissued["id"])
    assert sent[2]["station"]["id"] == "xixian"
    assert sent[2]["station"]["name"] == "息县救助管理站"
    assert notice_site.received("DELETE", f"/site/notices/{notice['external_id']}")

    found = search_events(
        network, case, lambda found: any(t == "search_case_moved" for t, _ in found)
    )
    (moved,) = [p for t, p in found if t == "search_case_moved"]
    assert (moved["case_id"], moved["from_station_id"], moved["to_station_id"]) == (
        case["id"],
        "gushi",
        "xixian",
    )
    assert moved["reason"] == "transfer"
    assert datetime.fromisoformat(moved["moved_at"]) >= datetime.fromisoformat(case["arrived_at"])
