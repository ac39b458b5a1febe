"""A person who refuses help is recognised by face (issue 25): the refusal's photo
goes from intake to search (refusal_photo_shared), is compared with every face of
the network, and who it may be comes back (refusal_face_recognised) as
suggestions on the refusal; linking stays staff's choice. On the real network."""

from __future__ import annotations

import base64
import uuid
from datetime import UTC, datetime, timedelta

import pytest
from support import poll, query, shared_testdata, station_client

pytestmark = pytest.mark.e2e

FACES = shared_testdata() / "faces"
SLOW = 120  # the face model on a shared machine


def b64(photo) -> str:
    return base64.b64encode(photo.read_bytes()).decode()


def refusal(nights_ago: int = 0) -> dict:
    return {
        "found_place": "信阳火车站广场",
        "found_at": (datetime.now(UTC) - timedelta(days=nights_ago, minutes=30)).isoformat(),
        "description": "男，约40岁，神志清楚，拒绝入站",
        "advice_given": "告知可随时到站求助并留下24小时求助热线，赠送棉被一条",
        "recorded_by": "王晓红",
    }


def admitted_with_face(staff, urls, network, photo) -> str:
    """A man admitted with a face photo, once search has enrolled it on his case."""
    answer = staff.post(
        f"{urls['intake']}/persons",
        json={"arrival_route": "own_request", "sex": "male", "estimated_age": 40},
    )
    assert answer.status_code == 201, answer.text
    person_id = answer.json()["id"]
    poll(lambda: staff.get(f"{urls['search']}/cases", params={"person_id": person_id}).json())
    added = staff.post(
        f"{urls['intake']}/persons/{person_id}/photos",
        json={"kind": "face", "image": b64(photo), "taken_at": datetime.now(UTC).isoformat()},
        timeout=30,
    )
    assert added.status_code == 201, added.text
    enrolled = "select status from shared_photos where photo_id = $1::uuid"
    [(status,)] = poll(lambda: query(network, "search", enrolled, added.json()["id"]), timeout=SLOW)
    assert status == "enrolled"
    return person_id


def photo_body(photo, nights_ago: int = 0) -> dict:
    taken = datetime.now(UTC) - timedelta(days=nights_ago, minutes=20)
    return {"image": b64(photo), "taken_at": taken.isoformat()}


def refused_with_photo(staff, urls, photo, nights_ago: int = 0, **headers) -> tuple[dict, dict]:
    """A refusal recorded, then its face photo added: both as answered."""
    recorded = staff.post(f"{urls['intake']}/refusals", json=refusal(nights_ago))
    assert recorded.status_code == 201, recorded.text
    added = staff.post(
        f"{urls['intake']}/refusals/{recorded.json()['id']}/photos",
        json=photo_body(photo, nights_ago),
        headers=headers,
        timeout=30,
    )
    assert added.status_code == 201, added.text
    return recorded.json(), added.json()


def recognised(staff, urls, refusal_id: str) -> dict:
    """The refusal once search has answered for every photo of it."""
    base = f"{urls['intake']}/refusals/{refusal_id}"

    def answered():
        photos = staff.get(f"{base}/photos").json()
        return photos and all(p["recognised_at"] for p in photos) and photos

    poll(answered, timeout=SLOW)
    return staff.get(base).json()


def by_face(refused: dict) -> dict[tuple[str, str], dict]:
    return {
        (m["kind"], m["person_id"]): m for m in refused["possible_matches"] if m["by"] == "face"
    }


def forget_faces(network, *person_ids: str) -> None:
    """The shared network's later face tests rank their own persons first."""
    for person_id in person_ids:
        query(network, "search", "delete from face_records where person_id = $1::uuid", person_id)


def test_a_man_admitted_with_his_face_is_recognised_when_he_refuses_help_elsewhere(network, urls):
    with station_client(network) as gushi, station_client(network, "xixian") as patrol:
        person_id = admitted_with_face(
            gushi, urls, network, FACES / "train" / "alex_lacamoire" / "img1.jpg"
        )
        try:
            recorded = patrol.post(f"{urls['intake']}/refusals", json=refusal())
            assert recorded.status_code == 201, recorded.text
            refused = recorded.json()
            base = f"{urls['intake']}/refusals/{refused['id']}"
            body = photo_body(FACES / "test" / "alex_lacamoire1.jpg")
            again = {"Idempotency-Key": f"refusal-photo-{uuid.uuid4()}"}
            added = patrol.post(f"{base}/photos", json=body, headers=again, timeout=30)
            assert added.status_code == 201, added.text
            photo = added.json()
            # a retry of the same upload is the same photo
            replayed = patrol.post(f"{base}/photos", json=body, headers=again, timeout=30)
            assert replayed.json()["id"] == photo["id"]
            # another station's refusal is not there for gushi; a non-image is refused
            assert gushi.post(f"{base}/photos", json=body, timeout=30).status_code == 404
            junk = patrol.post(f"{base}/photos", json={**body, "image": "bm8gaW1hZ2U="})
            assert junk.status_code == 422 and junk.json()["errors"][0]["field"] == "image"

            found = recognised(patrol, urls, refused["id"])
            match = by_face(found).get(("person", person_id))
            assert match is not None, found["possible_matches"]
            assert match["similarity"] >= 0.5 and match["station_id"] == "gushi"
            assert match["name"] is None  # another station's record: its name is not told
            [listed] = patrol.get(f"{base}/photos").json()
            assert listed["id"] == photo["id"] and listed["recognition_note"] is None
            image = patrol.get(f"{urls['intake']}{listed['url']}")
            assert (
                image.status_code == 200
                and image.content == (FACES / "test" / "alex_lacamoire1.jpg").read_bytes()
            )
            assert found["person_id"] != person_id  # suggested, not linked

            # staff judge it is him, and link it; his refusals are counted
            linked = patrol.post(f"{base}/person", json={"person_id": person_id})
            assert linked.status_code == 200, linked.text
            counted = patrol.get(f"{urls['intake']}/persons/{person_id}/refusals").json()
            assert (counted["count"], [r["id"] for r in counted["refusals"]]) == (
                1,
                [refused["id"]],
            )
        finally:
            forget_faces(network, person_id)


def test_two_refusals_of_an_unknown_man_on_two_nights_are_recognised_by_face(network, urls):
    with station_client(network) as gushi:
        first, _ = refused_with_photo(
            gushi, urls, FACES / "train" / "kit_harington" / "john1.jpeg", nights_ago=1
        )
        earlier = recognised(gushi, urls, first["id"])["possible_matches"]
        assert [m for m in earlier if m["kind"] == "refusal"] == []  # none before him
        second, _ = refused_with_photo(
            gushi, urls, FACES / "train" / "kit_harington" / "john2.jpeg"
        )
        found = recognised(gushi, urls, second["id"])
        match = by_face(found).get(("refusal", first["person_id"]))
        assert match is not None, found["possible_matches"]
        assert (match["refusal_id"], match["station_id"]) == (first["id"], "gushi")

        # staff link the second to the first: one man, refused twice
        linked = gushi.post(
            f"{urls['intake']}/refusals/{second['id']}/person",
            json={"earlier_refusal_id": first["id"]},
        )
        assert linked.status_code == 200, linked.text
        assert (linked.json()["count"], linked.json()["repeated"]) == (2, True)


def test_a_photo_of_someone_else_suggests_no_one_of_another_face(network, urls):
    with station_client(network) as gushi:
        person_id = admitted_with_face(
            gushi, urls, network, FACES / "train" / "rose_leslie" / "img1.jpg"
        )
        try:
            refused, _ = refused_with_photo(gushi, urls, FACES / "train" / "biden" / "biden.jpg")
            found = recognised(gushi, urls, refused["id"])
            assert ("person", person_id) not in by_face(found), found["possible_matches"]
            # and a photo of no single face is answered with the reason, suggesting no one
            crowd, _ = refused_with_photo(gushi, urls, FACES / "test" / "obama_and_biden.jpg")
            found = recognised(gushi, urls, crowd["id"])
            [photo] = gushi.get(f"{urls['intake']}/refusals/{crowd['id']}/photos").json()
            assert "faces were found" in photo["recognition_note"] and by_face(found) == {}
        finally:
            forget_faces(network, person_id)
