"""Police on the real network (issue 28): the face photo of an identity check behind a
short-lived signed link, opened only with the asked agency's own token and on
intake's audit trail; a check the police cannot verify passed up the levels
(逐级上报: county → city → province), and flagged for the station at the top."""

from __future__ import annotations

import base64
import uuid
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from journeys import events_for
from support import poll, query, shared_testdata, station_client

from rescue_chassis import photo_links

# the first test of a session waits for the network to start: slow on a busy machine
pytestmark = [pytest.mark.e2e, pytest.mark.timeout(900)]

POLICE_TOPIC = "rescue.partner.police"
SEARCH_TOPIC = "rescue.search.events"
COUNTY, CITY, PROVINCE = "gushi-police", "xinyang-police", "henan-police"
FACE = shared_testdata() / "faces" / "test" / "obama1.jpg"


def agency_client(network, agency: str, roles=("partner", "police")) -> httpx.Client:
    token = network.token(agency, list(roles), subject=f"officer-of-{agency}")
    return httpx.Client(headers={"Authorization": f"Bearer {token}"}, timeout=10)


def link(network, urls, photo_id: str, agency: str, expires_at: datetime, request_id: str) -> str:
    """As the delivery of the check mints it (the network's key, intake's base URL)."""
    return photo_links.mint(
        network.photo_link_key.encode(),
        urls["intake"],
        uuid.UUID(photo_id),
        agency,
        expires_at,
        request_id=uuid.UUID(request_id),
    )


def refused_for(answer: httpx.Response) -> str:
    assert answer.status_code == 403, answer.text
    assert answer.headers["content-type"] == "application/problem+json"
    (error,) = answer.json()["errors"]
    return error["field"]


def case_with_face_photo(network, urls) -> tuple[dict, str, bytes]:
    face = FACE.read_bytes()
    with station_client(network) as gushi:
        admitted = gushi.post(
            f"{urls['intake']}/persons",
            json={"arrival_route": "own_request", "sex": "male", "stated_names": ["李建国"]},
        )
        assert admitted.status_code == 201, admitted.text
        person_id = admitted.json()["id"]
        case = poll(
            lambda: gushi.get(f"{urls['search']}/cases", params={"person_id": person_id}).json()
        )[0]
        added = gushi.post(
            f"{urls['intake']}/persons/{person_id}/photos",
            json={
                "kind": "face",
                "image": base64.b64encode(face).decode(),
                "taken_at": datetime.now(UTC).isoformat(),
            },
        )
        assert added.status_code == 201, added.text
    photo_id = added.json()["id"]
    poll(  # search holds the photo for the case once intake shared it
        lambda: query(
            network, "search", "select 1 from shared_photos where photo_id = $1::uuid", photo_id
        )
    )
    return case, photo_id, face


def checks_of(network, urls, case_id: str, until) -> list[dict]:
    with station_client(network) as staff:

        def current():
            found = staff.get(f"{urls['search']}/cases/{case_id}/police")
            assert found.status_code == 200, found.text
            checks = found.json()["checks"]
            return checks if until(checks) else None

        return poll(current)


def answer_unverifiable(network, urls, agency: str, request_id: str) -> None:
    with agency_client(network, agency) as police:
        answered = police.post(
            f"{urls['search']}/police/checks/{request_id}/answer",
            json={"result": "unverifiable", "note": "本级人口库无此人"},
        )
    assert answered.status_code == 200, answered.text


def test_the_police_fetch_the_checks_photo_by_a_short_lived_audited_link(network, urls):
    case, photo_id, face = case_with_face_photo(network, urls)
    with station_client(network) as staff:
        asked = staff.post(
            f"{urls['search']}/cases/{case['id']}/police-checks",
            json={"agency_id": COUNTY, "sex": "male"},
            headers={"Idempotency-Key": str(uuid.uuid4())},
        )
    assert asked.status_code == 201, asked.text
    check = asked.json()
    # the latest face photo search holds for the case, by intake's id
    assert check["face_photo_id"] == photo_id
    sent = events_for(network, case["person_id"], bool, topic=POLICE_TOPIC, field="person_id")
    assert [(t, p["face_photo_id"]) for t, p in sent] == [
        ("police_identity_check_requested", photo_id)
    ]

    now = datetime.now(UTC)
    url = link(network, urls, photo_id, COUNTY, now + timedelta(minutes=5), check["id"])
    with agency_client(network, COUNTY) as county:
        seen = county.get(url, headers={"X-Purpose": "快查: 人脸比对".encode()})
        assert seen.status_code == 200, seen.text
        assert seen.content == face
        assert seen.headers["content-type"] == "image/jpeg"
        assert seen.headers["cache-control"] == "private, no-store"

        expired = link(network, urls, photo_id, COUNTY, now - timedelta(seconds=1), check["id"])
        assert refused_for(county.get(expired)) == "expires"
        tampered = url.replace("agency=gushi-police", "agency=xixian-police")
    with agency_client(network, "xixian-police") as other_agency:
        assert refused_for(other_agency.get(url)) == "agency"
        assert refused_for(other_agency.get(tampered)) == "signature"
    with station_client(network) as staff:  # not a police partner: the role is refused first
        assert staff.get(url).status_code == 403

    with station_client(network, "center", ("auditor",)) as auditor:
        trail = auditor.get(f"{urls['intake']}/audit/entries", params={"record_id": photo_id})
    assert trail.status_code == 200, trail.text
    views = [e for e in trail.json() if e["route"] == "/partner/photos/{photo_id}"]
    assert [(e["subject"], e["station_id"], e["status_code"]) for e in views] == [
        (f"officer-of-{COUNTY}", COUNTY, 200),  # who, for which agency
        (f"officer-of-{COUNTY}", COUNTY, 403),  # the expired link, refused: on record too
        ("officer-of-xixian-police", "xixian-police", 403),
        ("officer-of-xixian-police", "xixian-police", 403),
        ("dev-user", "gushi", 403),
    ]
    shown = views[0]
    assert shown["action"] == "read"
    # which photo, for which check, and why
    assert shown["record_ids"] == {"photo_id": photo_id, "request_id": check["id"]}
    assert shown["purpose"] == "快查: 人脸比对"


def test_an_unverifiable_check_goes_up_the_levels_and_is_flagged_at_the_top(network, urls):
    case, photo_id, _ = case_with_face_photo(network, urls)
    with station_client(network) as staff:
        asked = staff.post(
            f"{urls['search']}/cases/{case['id']}/police-checks",
            json={"agency_id": COUNTY, "sex": "male", "face_photo_id": photo_id},
        )
    assert asked.status_code == 201, asked.text
    county_check = asked.json()

    answer_unverifiable(network, urls, COUNTY, county_check["id"])
    checks = checks_of(network, urls, case["id"], lambda found: len(found) == 2)
    first, city_check = sorted(checks, key=lambda c: c["requested_at"])
    assert (first["id"], first["result"], first["escalation"]) == (
        county_check["id"],
        "unverifiable",
        "escalated",
    )
    assert first["escalated_to_request_id"] == city_check["id"]
    assert (city_check["agency_id"], city_check["status"]) == (CITY, "requested")
    assert city_check["escalates_request_id"] == county_check["id"]
    assert city_check["face_photo_id"] == photo_id

    # the city is asked on the police topic, the request naming the one it passes up
    requests = events_for(
        network,
        case["person_id"],
        lambda found: len(found) == 2,
        topic=POLICE_TOPIC,
        field="person_id",
    )
    passed_up = next(p for _, p in requests if p["request_id"] == city_check["id"])
    assert (passed_up["agency_id"], passed_up["escalates_request_id"]) == (
        CITY,
        county_check["id"],
    )
    assert passed_up["face_photo_id"] == photo_id
    facts = events_for(
        network,
        case["person_id"],
        lambda found: any(t == "police_check_escalated" for t, _ in found),
        topic=SEARCH_TOPIC,
        field="person_id",
    )
    escalated = next(p for t, p in facts if t == "police_check_escalated")
    assert (escalated["from_agency_id"], escalated["to_agency_id"]) == (COUNTY, CITY)

    # the city opens the photo with a link of its own; the county's link is not its
    with agency_client(network, CITY) as city:
        expires = datetime.now(UTC) + timedelta(minutes=5)
        seen = city.get(link(network, urls, photo_id, CITY, expires, city_check["id"]))
        assert seen.status_code == 200, seen.text
        county_link = link(network, urls, photo_id, COUNTY, expires, county_check["id"])
        assert refused_for(city.get(county_link)) == "agency"

    answer_unverifiable(network, urls, CITY, city_check["id"])
    checks = checks_of(network, urls, case["id"], lambda found: len(found) == 3)
    province_check = next(c for c in checks if c["escalates_request_id"] == city_check["id"])
    assert province_check["agency_id"] == PROVINCE

    answer_unverifiable(network, urls, PROVINCE, province_check["id"])
    checks = checks_of(
        network,
        urls,
        case["id"],
        lambda found: any(c["escalation"] == "top_level" for c in found),
    )
    assert len(checks) == 3  # no level above the province: nobody else is asked
    with station_client(network) as gushi, station_client(network, "xixian") as xixian:
        flagged = gushi.get(f"{urls['search']}/police-checks/unverifiable")
        assert flagged.status_code == 200, flagged.text
        assert province_check["id"] in [c["id"] for c in flagged.json()]
        others = xixian.get(f"{urls['search']}/police-checks/unverifiable").json()
        assert province_check["id"] not in [c["id"] for c in others]
        # the search goes on
        assert gushi.get(f"{urls['search']}/cases/{case['id']}").json()["status"] == "open"
