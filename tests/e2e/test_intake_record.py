"""The person's record and care on the real network (issue 3): photos,
belongings returned at discharge, health checks, outsourced care and its
monitoring, the long-stay settlement procedure, idempotent retries."""

from __future__ import annotations

import base64
import hashlib
from datetime import UTC, date, datetime, timedelta

import pytest
from journeys import events_for
from support import query, shared_testdata, station_client

from rescue_localnet.demo import signature_png

pytestmark = pytest.mark.e2e

INTAKE_EVENTS = "rescue.intake.events"
# Real photos, read-only from the shared test data (../shared/testdata).
FACES = shared_testdata() / "faces"


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


def kinds(found) -> list[str]:
    return [kind for kind, _ in found]


def count(network, table: str, person_id: str) -> int:
    return query(
        network, "intake", f"select count(*) from {table} where person_id = $1::uuid", person_id
    )[0][0]


def field_of(response) -> str:
    assert response.headers["content-type"] == "application/problem+json", response.text
    return response.json()["errors"][0]["field"]


def test_a_face_photo_round_trips_with_its_sha256_and_goes_out_as_metadata_only(network, urls):
    person = admit(network, urls, estimated_age=60)
    url = f"{urls['intake']}/persons/{person['id']}/photos"
    # two faces: search, which enrols intake's face photos, leaves it out of the
    # shared network's face matches (test_search_matching ranks its own persons)
    face = (FACES / "test" / "kit_with_rose.jpg").read_bytes()
    signature = base64.b64decode(signature_png())
    taken = datetime.now(UTC).isoformat()
    with station_client(network) as gushi, station_client(network, "xixian") as xixian:
        added = gushi.post(
            url,
            json={"kind": "face", "image": base64.b64encode(face).decode(), "taken_at": taken},
        )
        assert added.status_code == 201, added.text
        photo = added.json()
        assert photo["sha256"] == hashlib.sha256(face).hexdigest()
        assert (photo["content_type"], photo["size_bytes"]) == ("image/jpeg", len(face))
        assert added.headers["location"] == photo["url"]
        png = gushi.post(
            url,
            json={
                "kind": "belongings",
                "image": base64.b64encode(signature).decode(),
                "taken_at": taken,
            },
        )
        assert png.status_code == 201 and png.json()["content_type"] == "image/png"

        listed = gushi.get(url).json()
        assert [(p["id"], p["kind"]) for p in listed] == [
            (photo["id"], "face"),
            (png.json()["id"], "belongings"),
        ]
        assert all("image" not in p for p in listed)
        image = gushi.get(f"{urls['intake']}{photo['url']}")
        assert image.status_code == 200
        assert image.headers["content-type"] == "image/jpeg"
        assert image.content == face
        assert hashlib.sha256(image.content).hexdigest() == photo["sha256"]
        assert image.headers["cache-control"] == "private, no-store"
        # another satellite does not see the person's photos
        assert xixian.get(f"{urls['intake']}{photo['url']}").status_code == 404
        assert xixian.get(url).status_code == 404

        text = gushi.post(
            url,
            json={
                "kind": "face",
                "image": base64.b64encode((FACES / "README.md").read_bytes()).decode(),
                "taken_at": taken,
            },
        )
        assert text.status_code == 422 and field_of(text) == "image"
        huge = b"\xff\xd8\xff\xe0" + b"\0" * (2 * 1024 * 1024)
        too_large = gushi.post(
            url,
            json={"kind": "face", "image": base64.b64encode(huge).decode(), "taken_at": taken},
        )
        assert too_large.status_code == 413
        assert too_large.headers["content-type"] == "application/problem+json"
        future = gushi.post(
            url,
            json={
                "kind": "face",
                "image": base64.b64encode(face).decode(),
                "taken_at": (datetime.now(UTC) + timedelta(hours=2)).isoformat(),
            },
        )
        assert future.status_code == 422 and field_of(future) == "taken_at"
    assert count(network, "person_photos", person["id"]) == 2

    found = intake_events(network, person["id"], lambda f: kinds(f).count("photo_added") >= 2)
    added_events = [p for kind, p in found if kind == "photo_added"]
    assert added_events[0]["photo_id"] == photo["id"]
    assert added_events[0]["sha256"] == hashlib.sha256(face).hexdigest()
    assert "image" not in added_events[0]  # metadata only, never the image


def test_belongings_are_returned_at_discharge_or_it_is_said_why_not(network, urls):
    person = admit(network, urls, estimated_age=52)
    url = f"{urls['intake']}/persons/{person['id']}"
    inventory = {
        "items": [
            {"description": "黑色双肩包", "quantity": 1, "condition": "旧，拉链损坏"},
            {"description": "现金", "quantity": 36, "notes": "两人清点，单位：元"},
        ]
    }
    with station_client(network) as gushi:
        recorded = gushi.post(
            f"{url}/belongings", json=inventory, headers={"Idempotency-Key": f"bel-{person['id']}"}
        )
        assert recorded.status_code == 201, recorded.text
        # the station app's retry on a flaky line: the same answer, no second inventory
        retried = gushi.post(
            f"{url}/belongings", json=inventory, headers={"Idempotency-Key": f"bel-{person['id']}"}
        )
        assert retried.status_code == 201 and retried.json() == recorded.json()
        assert count(network, "belongings", person["id"]) == 2
        items = gushi.get(f"{url}/belongings").json()
        assert {(i["description"], i["quantity"], i["returned_at"]) for i in items} == {
            ("黑色双肩包", 1, None),
            ("现金", 36, None),
        }

        refused = gushi.post(f"{url}/discharge", json={"reason": "returned_home"})
        assert refused.status_code == 422 and field_of(refused) == "belongings_returned"
        assert gushi.get(url).json()["status"] == "in_station"  # nothing changed

        discharged = gushi.post(
            f"{url}/discharge",
            json={"reason": "returned_home", "belongings_returned": True, "note": "由女儿接回"},
        )
        assert discharged.status_code == 200, discharged.text
        assert discharged.json()["status"] == "discharged"
        items = gushi.get(f"{url}/belongings").json()
        assert all(i["returned_at"] is not None for i in items)
        assert {i["returned_at"] for i in items} == {discharged.json()["stays"][0]["discharged_at"]}
        # a discharged stay takes no more belongings
        assert gushi.post(f"{url}/belongings", json=inventory).status_code == 409

    found = intake_events(network, person["id"], lambda f: "person_discharged" in kinds(f))
    assert kinds(found) == [
        "person_admitted",
        "belongings_recorded",  # once, although the inventory was posted twice
        "belongings_returned",
        "person_discharged",
    ]
    assert found[1][1]["items"] == found[2][1]["items"] == 2


def test_belongings_not_returned_are_kept_with_the_reason(network, urls):
    person = admit(network, urls, estimated_age=81, categories=["elderly"])
    url = f"{urls['intake']}/persons/{person['id']}"
    with station_client(network) as gushi:
        gushi.post(
            f"{url}/belongings", json={"items": [{"description": "老花镜"}]}
        ).raise_for_status()
        died = gushi.post(
            f"{url}/discharge",
            json={"reason": "died", "belongings_note": "本人死亡，物品由站内保管，待家属领取"},
        )
        assert died.status_code == 200, died.text
        [glasses] = gushi.get(f"{url}/belongings").json()
    assert glasses["returned_at"] is None
    assert glasses["return_note"] == "本人死亡，物品由站内保管，待家属领取"


def test_health_checks_are_validated_and_the_latest_is_shown(network, urls):
    now = datetime.now(UTC)
    person = admit(
        network, urls, estimated_age=44, arrived_at=(now - timedelta(hours=2)).isoformat()
    )
    url = f"{urls['intake']}/persons/{person['id']}/health-checks"
    check = {
        "checked_by": "站医 王芳",
        "temperature_c": 36.8,
        "systolic_mmhg": 128,
        "diastolic_mmhg": 82,
        "pulse_per_minute": 76,
        "injuries": "左小腿擦伤，已消毒包扎",
        "infectious_screening": "negative",
    }
    with station_client(network) as gushi:
        typo = gushi.post(url, json={**check, "temperature_c": 368})
        assert typo.status_code == 422 and field_of(typo) == "temperature_c"
        upside_down = gushi.post(url, json={**check, "systolic_mmhg": 70, "diastolic_mmhg": 110})
        assert upside_down.status_code == 422 and field_of(upside_down) == "diastolic_mmhg"
        racing = gushi.post(url, json={**check, "pulse_per_minute": 400})
        assert racing.status_code == 422 and field_of(racing) == "pulse_per_minute"
        unknown = gushi.post(url, json={**check, "infectious_screening": "maybe"})
        assert unknown.status_code == 422
        assert count(network, "health_checks", person["id"]) == 0
        before_arrival = gushi.post(
            url, json={**check, "checked_at": (now - timedelta(hours=3)).isoformat()}
        )
        assert before_arrival.status_code == 422 and field_of(before_arrival) == "checked_at"

        later = gushi.post(
            url, json={**check, "checked_at": now.isoformat(), "temperature_c": 38.2}
        )
        assert later.status_code == 201, later.text
        earlier = gushi.post(
            url,
            json={**check, "checked_at": (now - timedelta(minutes=1)).isoformat()},
        )
        assert earlier.status_code == 201, earlier.text
        shown = gushi.get(url).json()
    assert shown["latest"]["id"] == later.json()["id"]
    assert shown["latest"]["temperature_c"] == 38.2
    assert [c["id"] for c in shown["checks"]] == [later.json()["id"], earlier.json()["id"]]


def test_outsourced_care_is_monitored_and_its_health_status_kept_current(network, urls):
    started = datetime.now(UTC) - timedelta(hours=3)
    person = admit(
        network,
        urls,
        estimated_age=79,
        categories=["elderly", "disabled"],
        arrived_at=(started - timedelta(days=2)).isoformat(),
    )
    url = f"{urls['intake']}/persons/{person['id']}/outsourced-care"
    placement = {
        "institution": "固始县社会福利院",
        "address": "固始县城关镇福利路8号",
        "started_at": started.isoformat(),
        "reason": "生活不能自理，站内无护理条件",
        "health_status": "卧床，意识清醒",
    }
    with station_client(network) as gushi, station_client(network, "center") as center:
        no_placement = gushi.post(
            f"{url}/visits",
            json={"visited_at": started.isoformat(), "visited_by": "李明", "health_status": "x"},
        )
        assert no_placement.status_code == 409
        begun = gushi.post(url, json=placement, headers={"Idempotency-Key": f"oc-{person['id']}"})
        assert begun.status_code == 201, begun.text
        again = gushi.post(url, json=placement, headers={"Idempotency-Key": f"oc-{person['id']}"})
        assert again.status_code == 201 and again.json()["id"] == begun.json()["id"]
        assert count(network, "outsourced_care", person["id"]) == 1
        assert gushi.post(url, json=placement).status_code == 409  # already placed

        visit = {
            "visited_at": (started + timedelta(hours=2)).isoformat(),
            "visited_by": "李明（站内社工）",
            "health_status": "精神状况稳定，饮食正常",
            "search_progress": "已采血录入打拐DNA库，暂无比中",
        }
        visited = gushi.post(f"{url}/visits", json=visit)
        assert visited.status_code == 201, visited.text
        assert visited.json()["health_status"] == "精神状况稳定，饮食正常"
        # a visit entered late, from before the latest one, does not overwrite it
        late = gushi.post(
            f"{url}/visits",
            json={
                **visit,
                "visited_at": (started + timedelta(hours=1)).isoformat(),
                "health_status": "轻微感冒",
            },
        )
        assert late.status_code == 201
        assert late.json()["health_status"] == "精神状况稳定，饮食正常"
        assert len(late.json()["visits"]) == 2
        before_start = gushi.post(
            f"{url}/visits",
            json={**visit, "visited_at": (started - timedelta(hours=1)).isoformat()},
        )
        assert before_start.status_code == 422 and field_of(before_start) == "visited_at"

        listed = gushi.get(f"{urls['intake']}/station/outsourced-care").json()
        mine = next(p for p in listed if p["person_id"] == person["id"])
        assert (mine["days_since_last_visit"], mine["overdue"]) == (0, False)
        assert mine["health_status"] == "精神状况稳定，饮食正常"
        seen_by_center = center.get(
            f"{urls['intake']}/station/outsourced-care", params={"station_id": "gushi"}
        ).json()
        assert person["id"] in {p["person_id"] for p in seen_by_center}

        vague = gushi.post(f"{url}/end", json={"outcome": "discharged"})
        assert vague.status_code == 422 and field_of(vague) == "discharge"
        ended = gushi.post(f"{url}/end", json={"outcome": "back_in_station", "note": "接回站内"})
        assert ended.status_code == 200, ended.text
        assert ended.json()["outcome"] == "back_in_station" and ended.json()["ended_at"]
        assert gushi.post(f"{url}/end", json={"outcome": "back_in_station"}).status_code == 409
        listed = gushi.get(f"{urls['intake']}/station/outsourced-care").json()
        assert person["id"] not in {p["person_id"] for p in listed}

    found = intake_events(network, person["id"], lambda f: "outsourced_care_ended" in kinds(f))
    assert kinds(found) == [
        "person_admitted",
        "outsourced_care_started",
        "outsourced_care_visited",
        "outsourced_care_visited",
        "outsourced_care_ended",
    ]
    assert found[1][1]["institution"] == "固始县社会福利院"
    assert "address" not in found[1][1]  # the person's whereabouts stay in intake
    assert found[2][1]["health_status"] == "精神状况稳定，饮食正常"
    assert found[4][1]["outcome"] == "back_in_station"


def test_a_placement_unvisited_for_30_days_is_overdue_and_a_discharge_ends_it(network, urls):
    long_ago = datetime.now(UTC) - timedelta(days=50)
    person = admit(network, urls, estimated_age=70, arrived_at=long_ago.isoformat())
    url = f"{urls['intake']}/persons/{person['id']}"
    with station_client(network) as gushi:
        gushi.post(
            f"{url}/belongings", json={"items": [{"description": "布鞋", "quantity": 2}]}
        ).raise_for_status()
        begun = gushi.post(
            f"{url}/outsourced-care",
            json={
                "institution": "信阳市第五人民医院（托养）",
                "address": "信阳市羊山新区",
                "started_at": (long_ago + timedelta(days=5)).isoformat(),
                "reason": "精神障碍，需专业看护",
            },
        )
        assert begun.status_code == 201, begun.text
        overdue = gushi.get(
            f"{urls['intake']}/station/outsourced-care", params={"overdue": True}
        ).json()
        mine = next(p for p in overdue if p["person_id"] == person["id"])
        assert mine["overdue"] is True and mine["days_since_last_visit"] == 45
        in_time = gushi.get(
            f"{urls['intake']}/station/outsourced-care", params={"overdue": False}
        ).json()
        assert person["id"] not in {p["person_id"] for p in in_time}

        # the family fetches the person from the institution: the stay ends there
        home = gushi.post(
            f"{url}/outsourced-care/end",
            json={
                "outcome": "discharged",
                "discharge": {"reason": "returned_home", "belongings_returned": True},
            },
        )
        assert home.status_code == 200, home.text
        assert home.json()["outcome"] == "discharged"
        assert gushi.get(url).json()["status"] == "discharged"
        assert all(i["returned_at"] for i in gushi.get(f"{url}/belongings").json())
        # outsourced care is for a person in station only
        again = gushi.post(
            f"{url}/outsourced-care",
            json={"institution": "某院", "address": "某地", "reason": "x"},
        )
        assert again.status_code == 409

    found = intake_events(network, person["id"], lambda f: "person_discharged" in kinds(f))
    assert kinds(found) == [
        "person_admitted",
        "belongings_recorded",
        "outsourced_care_started",
        "outsourced_care_ended",
        "belongings_returned",
        "person_discharged",
    ]
    assert found[3][1]["outcome"] == "discharged"


def test_settlement_steps_follow_the_long_stay_and_their_order(network, urls):
    person = admit(network, urls, estimated_age=58)
    url = f"{urls['intake']}/persons/{person['id']}"
    start = date.today() - timedelta(days=30)

    def step(name: str, days: int) -> dict:
        return {"step": name, "date": str(start + timedelta(days=days)), "by": "固始县公安局户政科"}

    with station_client(network) as gushi:
        early = gushi.post(f"{url}/settlement/steps", json=step("registration_applied", 0))
        assert early.status_code == 409, early.text
        assert gushi.get(f"{url}/settlement").json()["next_step"] is None

        # the long-stay timer fired (90 days unidentified), as the sweep would mark it
        query(
            network,
            "intake",
            "update stays set long_stay_reached_at = now() where person_id = $1::uuid",
            person["id"],
        )
        skipped = gushi.post(f"{url}/settlement/steps", json=step("support_applied", 0))
        assert skipped.status_code == 409
        assert "registration_applied" in skipped.json()["detail"]
        not_yet = gushi.post(f"{url}/discharge", json={"reason": "settled"})
        assert not_yet.status_code == 409

        first = step("registration_applied", 0)
        key = {"Idempotency-Key": f"settle-{person['id']}"}
        done = gushi.post(f"{url}/settlement/steps", json=first, headers=key)
        assert done.status_code == 201, done.text
        retried = gushi.post(f"{url}/settlement/steps", json=first, headers=key)
        assert retried.status_code == 201 and retried.json() == done.json()
        assert count(network, "settlement_steps", person["id"]) == 1
        twice = gushi.post(f"{url}/settlement/steps", json=first)
        assert twice.status_code == 409

        backwards = gushi.post(
            f"{url}/settlement/steps",
            json={**step("registration_granted", 0), "date": str(start - timedelta(days=1))},
        )
        assert backwards.status_code == 422 and field_of(backwards) == "date"
        for days, name in enumerate(
            ["registration_granted", "support_applied", "support_granted", "placed_in_institution"],
            start=1,
        ):
            recorded = gushi.post(
                f"{url}/settlement/steps", json={**step(name, days * 5), "note": f"第{days}步"}
            )
            assert recorded.status_code == 201, recorded.text
        settlement = gushi.get(f"{url}/settlement").json()
        assert [s["step"] for s in settlement["steps"]] == [
            "registration_applied",
            "registration_granted",
            "support_applied",
            "support_granted",
            "placed_in_institution",
        ]
        assert settlement["complete"] is True and settlement["next_step"] is None
        settled = gushi.post(f"{url}/discharge", json={"reason": "settled"})
        assert settled.status_code == 200, settled.text
        assert settled.json()["stays"][0]["discharge_reason"] == "settled"

    found = intake_events(network, person["id"], lambda f: "person_discharged" in kinds(f))
    steps = [p for kind, p in found if kind == "settlement_step_recorded"]
    assert [(s["number"], s["step"]) for s in steps] == [
        (1, "registration_applied"),
        (2, "registration_granted"),
        (3, "support_applied"),
        (4, "support_granted"),
        (5, "placed_in_institution"),
    ]
    assert [s["complete"] for s in steps] == [False] * 4 + [True]
    assert kinds(found)[-1] == "person_discharged"
