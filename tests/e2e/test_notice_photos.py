"""Family-search notices carry the photo staff chose (issue 28): the person's face
alone, cut out of a group photo taken at intake and resized, as the stand-in
national website and push service (conftest.NoticeSite) receive it over real
HTTP; no public photo of a protected person."""

from __future__ import annotations

import base64
import hashlib
import io
import uuid
from datetime import UTC, datetime

import numpy as np
import pytest
from journeys import events_for
from PIL import Image
from support import poll, query, shared_testdata, station_client

from search.faces.encoder import default_encoder

pytestmark = pytest.mark.e2e

FACES = shared_testdata() / "faces"


def admitted(network, urls, **person) -> dict:
    with station_client(network) as gushi:
        answer = gushi.post(
            f"{urls['intake']}/persons",
            json={"arrival_route": "own_request", "sex": "male", "estimated_age": 58, **person},
        )
        assert answer.status_code == 201, answer.text
        person_id = answer.json()["id"]
        return poll(
            lambda: gushi.get(f"{urls['search']}/cases", params={"person_id": person_id}).json()
        )[0]


def photo_taken(client, urls, case: dict, photo: bytes) -> dict:
    """A face photo taken at intake, once search derived its published image."""
    added = client.post(
        f"{urls['intake']}/persons/{case['person_id']}/photos",
        json={
            "kind": "face",
            "image": base64.b64encode(photo).decode(),
            "taken_at": datetime.now(UTC).isoformat(),
        },
        timeout=30,
    )
    assert added.status_code == 201, added.text
    listed = f"{urls['search']}/cases/{case['id']}/publication-photos"
    return poll(
        lambda: [p for p in client.get(listed).json() if p["photo_id"] == added.json()["id"]],
        timeout=90,
    )[0]


def test_a_notice_shows_the_chosen_photo_with_the_persons_face_alone(network, urls, notice_site):
    case = admitted(network, urls)
    portrait_bytes = (FACES / "test" / "obama1.jpg").read_bytes()
    group_bytes = (FACES / "test" / "obama_and_biden.jpg").read_bytes()
    encoder = default_encoder()
    [person] = encoder.encode(portrait_bytes)
    try:
        with station_client(network) as gushi:
            search = f"{urls['search']}/cases/{case['id']}"
            # the portrait first, so the group photo's faces are told by the person's
            portrait = photo_taken(gushi, urls, case, portrait_bytes)
            group = photo_taken(gushi, urls, case, group_bytes)
            assert (portrait["status"], portrait["faces_in_photo"]) == ("ready", 1)
            assert group["status"] == "ready" and group["faces_in_photo"] >= 2
            assert group["face_basis"] == "match"
            # no photo until staff choose one
            assert gushi.get(f"{search}/publication-photo").json()["photo"] is None

            # another person's photo is not this case's: refused by its field
            other = admitted(network, urls)
            refused = gushi.put(
                f"{urls['search']}/cases/{other['id']}/publication-photo",
                json={"photo_id": group["photo_id"]},
            )
            assert refused.status_code == 422, refused.text
            assert refused.headers["content-type"].startswith("application/problem+json")
            assert [e["field"] for e in refused.json()["errors"]] == ["photo_id"]

            chosen = gushi.put(f"{search}/publication-photo", json={"photo_id": group["photo_id"]})
            assert chosen.status_code == 200, chosen.text
            assert chosen.json()["photo"]["photo_id"] == group["photo_id"]

            national = gushi.post(
                f"{search}/notices", json={"kind": "national", "sex": "male", "estimated_age": 58}
            )
            assert national.status_code == 201, national.text
            [notice] = national.json()
            assert notice["status"] == "published", notice
            assert notice["publication_photo_id"] == group["photo_id"]
            pushed = gushi.post(
                f"{search}/notices",
                json={"kind": "regional", "regions": [{"region": "四川省", "basis": "accent"}]},
            )
            assert pushed.status_code == 201, pushed.text
            [push] = pushed.json()
            preview = gushi.get(f"{search}/publication-photos/{group['photo_id']}/image")
            assert preview.status_code == 200 and preview.headers["content-type"] == "image/jpeg"

        [(_, _, body)] = notice_site.received("POST", "/site/notices", notice_id=notice["id"])
        photo = body["photo"]
        image = base64.b64decode(photo["data"])
        assert hashlib.sha256(image).hexdigest() == photo["sha256"] == group["sha256"]
        picture = Image.open(io.BytesIO(image))
        assert picture.format == "JPEG" and "exif" not in picture.info
        assert picture.size == (photo["width"], photo["height"])
        assert max(picture.size) <= 640
        # the detector's word: one face in what went out, and it is the person's
        [seen] = encoder.encode(image)
        assert float(np.linalg.norm(seen.vector - person.vector)) < 0.5
        assert preview.content == image
        # the regional push shows the same image
        [(_, _, push_body)] = notice_site.received("POST", "/push/campaigns", notice_id=push["id"])
        assert push_body["region"] == "四川省"
        assert push_body["photo"]["sha256"] == photo["sha256"]
        # the event says a photo is shown, and carries none
        events = events_for(
            network,
            case["person_id"],
            lambda found: any(t == "notice_published" for t, _ in found),
            topic="rescue.search.events",
            field="person_id",
        )
        published = [p for t, p in events if t == "notice_published"]
        assert [p["with_photo"] for p in published if p["notice_id"] == notice["id"]] == [True]
        assert photo["data"] not in str(events)
    finally:
        # the shared network's later face tests rank their own persons first
        query(
            network,
            "search",
            "delete from face_records where person_id = $1::uuid",
            case["person_id"],
        )


def test_a_protected_person_gets_no_public_photo(network, urls):
    victim = admitted(network, urls, sex="female", categories=["domestic_violence_victim"])
    with station_client(network) as gushi:
        refused = gushi.put(
            f"{urls['search']}/cases/{victim['id']}/publication-photo",
            json={"photo_id": str(uuid.uuid4())},
        )
    assert refused.status_code == 409, refused.text
    assert refused.json()["type"].endswith("protected-person")
    assert "domestic_violence_victim" in refused.json()["detail"]
