"""Photos over the default 1 MiB body reach their routes on the real network
(issue 22): the routers' declared body limits hold behind uvicorn, and a body over
the declared limit is still a 413."""

from __future__ import annotations

import base64
from datetime import UTC, datetime

import pytest
from support import shared_testdata, station_client

pytestmark = pytest.mark.e2e

MIB = 1024 * 1024
FACES = shared_testdata() / "faces"


def test_a_2_mib_photo_is_added_to_the_persons_record(network, urls):
    with station_client(network) as staff:
        admitted = staff.post(
            f"{urls['intake']}/persons",
            json={"arrival_route": "own_request", "sex": "male", "estimated_age": 60},
        )
        assert admitted.status_code == 201, admitted.text
        url = f"{urls['intake']}/persons/{admitted.json()['id']}/photos"
        image = b"\x89PNG\r\n\x1a\n" + b"\0" * (2 * MIB - 8)  # the largest intake takes
        body = {
            "kind": "belongings",
            "image": base64.b64encode(image).decode(),
            "taken_at": datetime.now(UTC).isoformat(),
        }
        added = staff.post(url, json=body, timeout=30)
        assert added.status_code == 201, added.text
        assert added.json()["size_bytes"] == 2 * MIB

        too_large = staff.post(url, json={**body, "image": "A" * (3 * MIB)}, timeout=30)
        assert too_large.status_code == 413
        assert too_large.headers["content-type"] == "application/problem+json"


def test_a_face_photo_of_several_mib_is_searched(network, urls):
    # A real face, then padding after the JPEG's end: 2.5 MiB of photo, 3.3 MiB of body.
    photo = (FACES / "test" / "obama1.jpg").read_bytes()
    photo += b"\0" * (int(2.5 * MIB) - len(photo))
    with station_client(network, roles=("search_specialist",)) as specialist:
        found = specialist.post(
            f"{urls['search']}/face-searches",
            json={"image": base64.b64encode(photo).decode()},
            timeout=60,
        )
        assert found.status_code == 200, found.text
        assert len(found.json()["faces"]) == 1

        too_large = specialist.post(
            f"{urls['search']}/face-searches",
            content=b"{" + b" " * (12 * MIB) + b"}",
            headers={"Content-Type": "application/json"},
            timeout=60,
        )
        assert too_large.status_code == 413
