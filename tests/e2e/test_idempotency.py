"""Idempotency-Key on the real services (issue 22): a stored answer is replayed to
its own caller only, and a key reused for another request is a conflict."""

from __future__ import annotations

import base64
import uuid
from datetime import UTC, datetime

import pytest
from support import query, shared_testdata, station_client

pytestmark = pytest.mark.e2e

FACE = shared_testdata() / "faces" / "test" / "obama1.jpg"
ADMISSION = {"arrival_route": "own_request", "sex": "female", "estimated_age": 52}


def keyed(key: str) -> dict[str, str]:
    return {"Idempotency-Key": key}


def test_another_station_sending_the_same_key_and_body_gets_its_own_admission(network, urls):
    key = f"first-try-{uuid.uuid4()}"
    with station_client(network, "gushi") as gushi, station_client(network, "xixian") as xixian:
        first = gushi.post(f"{urls['intake']}/persons", json=ADMISSION, headers=keyed(key))
        assert first.status_code == 201, first.text
        other = xixian.post(f"{urls['intake']}/persons", json=ADMISSION, headers=keyed(key))
        assert other.status_code == 201, other.text
        assert other.json()["id"] != first.json()["id"]
        assert other.json()["station_id"] == "xixian"
        assert "gushi" not in other.text

        again = gushi.post(f"{urls['intake']}/persons", json=ADMISSION, headers=keyed(key))
        assert again.status_code == 201
        assert again.json() == first.json()


def test_another_user_of_the_same_station_gets_a_fresh_key(network, urls):
    key = f"shift-{uuid.uuid4()}"
    day = network.token("gushi", ["station_staff"], subject="day-shift")
    night = network.token("gushi", ["station_staff"], subject="night-shift")
    with station_client(network) as client:
        first = client.post(
            f"{urls['intake']}/persons",
            json=ADMISSION,
            headers={**keyed(key), "Authorization": f"Bearer {day}"},
        )
        second = client.post(
            f"{urls['intake']}/persons",
            json=ADMISSION,
            headers={**keyed(key), "Authorization": f"Bearer {night}"},
        )
    assert (first.status_code, second.status_code) == (201, 201)
    assert first.json()["id"] != second.json()["id"]


def test_the_same_key_for_another_body_is_a_conflict_and_writes_nothing(network, urls):
    key = f"reused-{uuid.uuid4()}"
    with station_client(network) as gushi:
        first = gushi.post(f"{urls['intake']}/persons", json=ADMISSION, headers=keyed(key))
        assert first.status_code == 201, first.text
        before = query(network, "intake", "select count(*) from persons")[0][0]
        changed = gushi.post(
            f"{urls['intake']}/persons",
            json={**ADMISSION, "estimated_age": 53},
            headers=keyed(key),
        )
    assert changed.status_code == 409, changed.text
    assert changed.headers["content-type"] == "application/problem+json"
    assert changed.json()["type"].endswith("idempotency-key-reused")
    assert query(network, "intake", "select count(*) from persons")[0][0] == before


def test_the_same_key_and_body_on_another_person_is_a_conflict_not_a_replay(network, urls):
    key = f"photo-{uuid.uuid4()}"
    photo = {
        "kind": "full_body",  # a face would join search's matches (test_search_matching)
        "image": base64.b64encode(FACE.read_bytes()).decode(),
        "taken_at": datetime.now(UTC).isoformat(),
    }
    with station_client(network) as gushi:
        one, two = (
            gushi.post(f"{urls['intake']}/persons", json=ADMISSION).json()["id"] for _ in range(2)
        )
        added = gushi.post(f"{urls['intake']}/persons/{one}/photos", json=photo, headers=keyed(key))
        assert added.status_code == 201, added.text
        elsewhere = gushi.post(
            f"{urls['intake']}/persons/{two}/photos", json=photo, headers=keyed(key)
        )
    assert elsewhere.status_code == 409, elsewhere.text
    photos = query(
        network, "intake", "select count(*) from person_photos where person_id = $1::uuid", two
    )
    assert photos[0][0] == 0


@pytest.mark.parametrize("key", ["", "x" * 201, "caf\xe9".encode("latin-1")])
def test_a_malformed_key_is_refused_naming_the_header(network, urls, key):
    with station_client(network) as gushi:
        refused = gushi.post(f"{urls['intake']}/persons", json=ADMISSION, headers=keyed(key))
    assert refused.status_code == 422, refused.text
    assert "Idempotency-Key" in refused.json()["errors"][0]["field"]
