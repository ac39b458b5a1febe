"""A face photo taken at intake is enrolled in search by event, once, and found by
a face search with no second upload (issue 25)."""

from __future__ import annotations

import base64
import io
from datetime import UTC, datetime

import pytest
from PIL import Image
from support import poll, query, shared_testdata, station_client

from rescue_events.contracts.intake_care import SHARED_PHOTO_MAX_BYTES

pytestmark = pytest.mark.e2e

FACES = shared_testdata() / "faces"


def b64(photo: bytes) -> str:
    return base64.b64encode(photo).decode()


def phone_sized(photo: bytes) -> bytes:
    """The photo as a phone's camera would take it: large, barely compressed."""
    picture = Image.open(io.BytesIO(photo))
    picture = picture.resize((picture.width * 3, picture.height * 3), Image.Resampling.LANCZOS)
    out = io.BytesIO()
    picture.save(out, format="JPEG", quality=97)
    return out.getvalue()


def shared_photo(network, photo_id: str) -> list:
    return query(
        network,
        "search",
        "select status, case_id, reason from shared_photos where photo_id = $1::uuid",
        photo_id,
    )


def test_an_intake_face_photo_is_found_by_a_face_search_without_a_second_upload(network, urls):
    face = (FACES / "test" / "obama1.jpg").read_bytes()
    with station_client(network) as gushi:
        admitted = gushi.post(
            f"{urls['intake']}/persons",
            json={"arrival_route": "own_request", "sex": "male", "estimated_age": 58},
        )
        assert admitted.status_code == 201, admitted.text
        person_id = admitted.json()["id"]
        case = poll(
            lambda: gushi.get(f"{urls['search']}/cases", params={"person_id": person_id}).json()
        )[0]
        photos = f"{urls['intake']}/persons/{person_id}/photos"
        taken = datetime.now(UTC).isoformat()
        added = gushi.post(photos, json={"kind": "face", "image": b64(face), "taken_at": taken})
        assert added.status_code == 201, added.text
        # the same face again (another photo id): one face record all the same
        again = gushi.post(photos, json={"kind": "face", "image": b64(face), "taken_at": taken})
        assert again.status_code == 201, again.text
        # a phone's full-size photo, over the broker's limit, travels as a smaller copy
        large = phone_sized(face)
        assert SHARED_PHOTO_MAX_BYTES < len(large) <= 2 * 1024 * 1024
        resized = gushi.post(
            photos, json={"kind": "face", "image": b64(large), "taken_at": taken}, timeout=30
        )
        assert resized.status_code == 201, resized.text
        # a large file no copy can be made of travels without its image: an upload to do
        broken = b"\xff\xd8\xff\xe0" + bytes(700 * 1024)
        too_large = gushi.post(
            photos, json={"kind": "face", "image": b64(broken), "taken_at": taken}, timeout=30
        )
        assert too_large.status_code == 201, too_large.text
    try:
        [(status, case_id, _)] = poll(lambda: shared_photo(network, added.json()["id"]))
        assert (status, str(case_id)) == ("enrolled", case["id"])
        [(status, _, reason)] = poll(lambda: shared_photo(network, resized.json()["id"]))
        assert (status, reason) == ("enrolled", None)
        [(status, _, reason)] = poll(lambda: shared_photo(network, too_large.json()["id"]))
        assert status == "upload_needed" and "too_large" in reason
        poll(lambda: shared_photo(network, again.json()["id"]))
        records = query(
            network,
            "search",
            "select case_id, station_id, source from face_records where person_id = $1::uuid",
            person_id,
        )
        # the same photo twice is one record; its resized copy is a photo of its own
        assert [(str(r[0]), r[1], r[2]) for r in records] == [
            (case["id"], "gushi", "admission")
        ] * 2
        # the station's list: what was enrolled, and the photo to upload by hand
        mine = {"person_id": person_id}
        with station_client(network) as gushi, station_client(network, "xixian") as xixian:
            listed = gushi.get(f"{urls['search']}/intake-photos", params=mine).json()
            assert xixian.get(f"{urls['search']}/intake-photos", params=mine).json() == []
        statuses = {p["photo_id"]: p["status"] for p in listed}
        assert statuses == {
            added.json()["id"]: "enrolled",
            again.json()["id"]: "enrolled",
            resized.json()["id"]: "enrolled",
            too_large.json()["id"]: "upload_needed",
        }

        # another photo of the same man finds the person, enrolled from intake only
        other_photo = (FACES / "train" / "obama" / "obama2.jpg").read_bytes()
        with station_client(network, "gushi", ("search_specialist",)) as specialist:
            found = specialist.post(
                f"{urls['search']}/face-searches",
                json={"image": b64(other_photo), "limit": 50},
                timeout=60,
            )
        assert found.status_code == 200, found.text
        matches = {m["person_id"]: m for f in found.json()["faces"] for m in f["matches"]}
        assert person_id in matches, matches
        assert matches[person_id]["verdict"] == "match"
        assert {r["case_id"] for r in matches[person_id]["records"]} == {case["id"]}
    finally:
        # the shared network's later face tests rank their own persons first
        # (test_search_matching): this person's face leaves the index
        query(network, "search", "delete from face_records where person_id = $1::uuid", person_id)
