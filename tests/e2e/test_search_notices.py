"""Family-search notices on the real network (issue 4): the national notice within
24 hours, regional pushes, retries, protected persons and their override, and
notices taken down when the person returns home (issue 25: other endings keep
them, tests/e2e/test_one_case_search.py). Search calls a stand-in website and
push service (conftest.NoticeSite) over real HTTP."""

from __future__ import annotations

import json
import secrets
from datetime import datetime

import pytest
from journeys import events_for
from support import poll, station_client

pytestmark = pytest.mark.e2e

SEARCH_EVENTS = "rescue.search.events"


def admitted_case(network, urls, **person) -> dict:
    with station_client(network) as gushi:
        admitted = gushi.post(
            f"{urls['intake']}/persons",
            json={"arrival_route": "own_request", "sex": "male", **person},
        )
        assert admitted.status_code == 201, admitted.text
        person_id = admitted.json()["id"]
        return poll(
            lambda: gushi.get(f"{urls['search']}/cases", params={"person_id": person_id}).json()
        )[0]


def publish(client, urls, case: dict, kind: str = "national", **extra):
    return client.post(
        f"{urls['search']}/cases/{case['id']}/notices",
        json={"kind": kind, "sex": "male", "estimated_age": 60, **extra},
    )


def notices_of(client, urls, case: dict) -> list[dict]:
    return client.get(f"{urls['search']}/cases/{case['id']}/notices").json()


def test_the_national_notice_goes_up_within_the_deadline_and_says_nothing_protected(
    network, urls, notice_site
):
    case = admitted_case(
        network,
        urls,
        estimated_age=60,
        dialect="四川话",
        stated_names=["王建国"],
        stated_places=["四川省南充市"],
        categories=["elderly", "suspected_trafficking"],
    )
    with station_client(network) as gushi:
        key = {"Idempotency-Key": f"notice-{secrets.token_hex(4)}"}
        body = {"kind": "national", "sex": "male", "estimated_age": 60, "appearance": "灰色外套"}
        first = gushi.post(f"{urls['search']}/cases/{case['id']}/notices", json=body, headers=key)
        assert first.status_code == 201, first.text
        (notice,) = first.json()
        assert notice["status"] == "published"
        assert notice["kind"] == "national" and notice["region"] is None
        assert notice["external_id"].startswith("ext-")
        # a retry of the same request is answered from the first, nothing sent again
        again = gushi.post(f"{urls['search']}/cases/{case['id']}/notices", json=body, headers=key)
        assert again.json() == first.json()
        # a second national notice while this one is up: refused
        assert publish(gushi, urls, case).status_code == 409

        now_case = gushi.get(f"{urls['search']}/cases/{case['id']}").json()
        published = datetime.fromisoformat(now_case["notice_published_at"])
        assert published <= datetime.fromisoformat(now_case["notice_due_at"])
        assert published == datetime.fromisoformat(notice["published_at"])
        assert now_case["notice_overdue"] is False
        tasks = gushi.get(f"{urls['search']}/cases/{case['id']}/tasks").json()
        (task,) = [t for t in tasks if t["kind"] == "family_search_notice"]
        assert task["status"] == "done"

    sent = notice_site.received("POST", "/site/notices", notice_id=notice["id"])
    assert len(sent) == 1
    _, _, payload = sent[0]
    assert payload["station"]["id"] == "gushi"
    assert payload["photo"] is None  # no photo chosen for publication: none shown
    description = payload["description"]
    assert description["sex"] == "male" and description["estimated_age"] == 60
    assert description["dialect"] == "四川话"
    assert description["stated_names"] == ["王建国"]
    assert "categories" not in json.dumps(payload)
    for marker in ("elderly", "trafficking", "domestic", "家暴"):
        assert marker not in json.dumps(payload, ensure_ascii=False)

    events = events_for(
        network,
        case["person_id"],
        lambda found: any(t == "notice_published" for t, _ in found),
        topic=SEARCH_EVENTS,
        field="person_id",
    )
    (event,) = [p for t, p in events if t == "notice_published"]
    assert event["notice_id"] == notice["id"] and event["kind"] == "national"
    assert set(event) <= {
        "person_id",
        "case_id",
        "notice_id",
        "station_id",
        "kind",
        "region",
        "published_at",
        "purpose",  # seeking_family, or deceased (tests/e2e/test_case_moves.py)
        "with_photo",  # whether it shows a photo, never the photo (test_notice_photos.py)
    }
    assert event["with_photo"] is False


def test_regional_pushes_go_once_to_each_region(network, urls, notice_site):
    case = admitted_case(network, urls, dialect="湖南话", stated_places=["贵州省遵义市"])
    with station_client(network) as gushi:
        pushed = publish(gushi, urls, case, "regional", found_place="固始县人民广场")
        assert pushed.status_code == 201, pushed.text
        regions = {(n["region"], n["region_basis"], n["status"]) for n in pushed.json()}
        assert regions == {
            ("固始县人民广场", "found", "published"),
            ("湖南省", "accent", "published"),
            ("贵州省遵义市", "claimed_home", "published"),
        }
        for notice in pushed.json():
            sent = notice_site.received("POST", "/push/campaigns", notice_id=notice["id"])
            assert [body["region"] for _, _, body in sent] == [notice["region"]]
        # the same regions again: already pushed
        again = publish(gushi, urls, case, "regional", found_place="固始县人民广场")
        assert again.status_code == 409, again.text
        # a region of the staff's own choice
        chosen = publish(
            gushi, urls, case, "regional", regions=[{"region": "重庆市", "basis": "claimed_home"}]
        )
        assert chosen.status_code == 201, chosen.text
        assert [n["region"] for n in chosen.json()] == ["重庆市"]
        # a national notice is not pushed to regions
        assert publish(gushi, urls, case, regions=[{"region": "重庆市", "basis": "found"}]).json()[
            "errors"
        ][0]["field"] == ("regions")


def test_a_failing_website_is_retried_and_a_failure_is_recorded(network, urls, notice_site):
    case = admitted_case(network, urls)
    with station_client(network) as gushi:
        notice_site.fail_next(1)  # one 500, then success: retried within the call
        published = publish(gushi, urls, case)
        assert published.status_code == 201, published.text
        (notice,) = published.json()
        assert notice["status"] == "published"
        assert len(notice_site.received("POST", "/site/notices", notice_id=notice["id"])) == 2

        other = admitted_case(network, urls)
        notice_site.fail_next(3)  # every try of the call fails
        failed = publish(gushi, urls, other)
        assert failed.status_code == 201, failed.text
        (broken,) = failed.json()
        assert broken["status"] == "failed" and broken["error"].startswith("HTTP 500")
        assert (
            gushi.get(f"{urls['search']}/cases/{other['id']}").json()["notice_published_at"] is None
        )
        # the retry sweep tries the same notice again, and it goes up
        up = poll(
            lambda: [
                n
                for n in notices_of(gushi, urls, other)
                if n["id"] == broken["id"] and n["status"] == "published"
            ]
        )
        assert len(up) == 1 and len(notices_of(gushi, urls, other)) == 1
        again = publish(gushi, urls, other)
        assert again.status_code == 409  # it is up: asking again publishes nothing more

    events = events_for(
        network,
        other["person_id"],
        lambda found: {"notice_publication_failed", "notice_published"} <= {t for t, _ in found},
        topic=SEARCH_EVENTS,
        field="person_id",
    )
    (failure,) = [p for t, p in events if t == "notice_publication_failed"]
    assert failure["notice_id"] == broken["id"] and failure["error"].startswith("HTTP 500")


def test_no_public_notice_for_a_dv_victim_without_an_authorised_override(
    network, urls, notice_site
):
    case = admitted_case(network, urls, sex="female", categories=["domestic_violence_victim"])
    sent_before = len(notice_site.received("POST"))
    with station_client(network) as staff:
        for kind in ("national", "regional"):
            refused = publish(staff, urls, case, kind)
            assert refused.status_code == 409, refused.text
            assert refused.json()["type"].endswith("protected-person")
        assert notices_of(staff, urls, case) == []
        protection = staff.get(f"{urls['search']}/cases/{case['id']}/protection").json()
        assert protection["reasons"] == ["domestic_violence_victim"]
        assert protection["public_notice_allowed"] is False

        reason = {"reason": "本人要求寻找子女,经评估风险可控,同意发布"}
        forbidden = staff.post(f"{urls['search']}/cases/{case['id']}/notice-override", json=reason)
        assert forbidden.status_code == 403, forbidden.text
    assert len(notice_site.received("POST")) == sent_before

    with station_client(network, "gushi", ["station_lead"]) as lead:
        no_reason = lead.post(f"{urls['search']}/cases/{case['id']}/notice-override", json={})
        assert no_reason.status_code == 422
        override = lead.post(f"{urls['search']}/cases/{case['id']}/notice-override", json=reason)
        assert override.status_code == 201, override.text
        assert override.json()["authorised_role"] == "station_lead"
        published = publish(lead, urls, case)
        assert published.status_code == 201, published.text
        (notice,) = published.json()
        assert notice["status"] == "published"
        assert notice["override_id"] == override.json()["id"]
    (_, _, payload) = notice_site.received("POST", "/site/notices", notice_id=notice["id"])[0]
    assert "domestic" not in json.dumps(payload)


def test_marking_a_person_endangered_takes_the_notice_down_and_stops_new_ones(
    network, urls, notice_site
):
    case = admitted_case(network, urls)
    with station_client(network) as staff:
        (notice,) = publish(staff, urls, case).json()
        marked = staff.post(
            f"{urls['search']}/cases/{case['id']}/protection",
            json={"endangered": True, "reason": "有人在站外打听其下落"},
        )
        assert marked.status_code == 200, marked.text
        assert marked.json()["reasons"] == ["endangered"]
        down = poll(
            lambda: [n for n in notices_of(staff, urls, case) if n["status"] == "taken_down"]
        )
        assert down[0]["reason"] == "protection"
        assert notice_site.received("DELETE", f"/site/notices/{notice['external_id']}")
        assert publish(staff, urls, case).status_code == 409
        lift = staff.post(
            f"{urls['search']}/cases/{case['id']}/protection",
            json={"endangered": False, "reason": "风险已经解除,施暴者被羁押"},
        )
        assert lift.status_code == 403


def test_a_return_home_takes_the_notices_down(network, urls, notice_site):
    case = admitted_case(network, urls, dialect="四川话")
    with station_client(network) as gushi:
        national = publish(gushi, urls, case).json()
        regional = publish(gushi, urls, case, "regional").json()
        published = national + regional
        assert {n["status"] for n in published} == {"published"}
        home = gushi.post(
            f"{urls['intake']}/persons/{case['person_id']}/discharge",
            json={"reason": "returned_home"},
        )
        assert home.status_code == 200, home.text
        down = poll(
            lambda: (
                (found := notices_of(gushi, urls, case))
                and all(n["status"] == "taken_down" for n in found)
                and found
            )
        )
        assert {n["reason"] for n in down} == {"person_discharged:returned_home"}
        assert all(n["taken_down_at"] for n in down)
        for notice in published:
            prefix = "/site/notices" if notice["kind"] == "national" else "/push/campaigns"
            assert notice_site.received("DELETE", f"{prefix}/{notice['external_id']}")
        closed = publish(gushi, urls, case)
        assert closed.status_code == 409 and closed.json()["title"] == "Notices closed"

    events = events_for(
        network,
        case["person_id"],
        lambda found: sum(t == "notice_taken_down" for t, _ in found) >= len(published),
        topic=SEARCH_EVENTS,
        field="person_id",
    )
    taken_down = [p for t, p in events if t == "notice_taken_down"]
    assert {p["notice_id"] for p in taken_down} == {n["id"] for n in published}
    assert {p["reason"] for p in taken_down} == {"person_discharged:returned_home"}
