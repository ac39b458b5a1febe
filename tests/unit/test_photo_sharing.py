"""A face photo taken at intake is shared with search by event and enrolled on the
person's case once (issue 25), on in-memory units of work."""

from __future__ import annotations

import base64
import uuid
from datetime import UTC, datetime, timedelta

import pytest

from intake.commands.record import AddPhoto, PhotoUpload, add_photo
from intake.tables import Person, Stay
from rescue_chassis.auth import Principal
from rescue_chassis.testing import FakeUnitOfWork
from rescue_events.contracts.intake_care import (
    SHARED_PHOTO_MAX_BYTES,
    PhotoAddedV1,
    PhotoSharedForSearchV1,
)
from search import statements
from search.commands import faces
from search.faces.encoder import DetectedFace
from search.tables import SearchCase
from search.tables.escalations import SharedPhoto

NOW = datetime(2026, 11, 23, 10, 0, tzinfo=UTC)
PNG = b"\x89PNG\r\n\x1a\n" + b"\0" * 64


# ---- intake: what goes on the event ------------------------------------------------------


def admitted() -> tuple[Person, Stay]:
    person_id, stay_id = uuid.uuid4(), uuid.uuid4()
    person = Person(
        id=person_id,
        station_id="gushi",
        status="in_station",
        current_stay_id=stay_id,
        identity_status="unknown",
        sex="male",
        stated_names=[],
        stated_places=[],
        categories=[],
    )
    stay = Stay(
        id=stay_id,
        person_id=person_id,
        sequence=1,
        station_id="gushi",
        arrival_route="own_request",
        arrived_at=NOW - timedelta(hours=3),
        admitted_at=NOW - timedelta(hours=3),
        admitted_by="w0",
    )
    return person, stay


async def photo_events(kind: str, image: bytes) -> list:
    person, stay = admitted()
    staff = Principal(subject="w1", station_id="gushi", roles=frozenset({"station_staff"}))
    uow = FakeUnitOfWork(actor=staff, rows=[person, stay], now=NOW)
    upload = PhotoUpload(kind=kind, image=base64.b64encode(image).decode(), taken_at=NOW)
    await add_photo(AddPhoto(person_id=person.id, upload=upload), uow)
    return uow.events


async def test_a_face_photo_is_shared_with_search_with_its_image():
    added, shared = await photo_events("face", PNG)

    assert isinstance(added, PhotoAddedV1) and isinstance(shared, PhotoSharedForSearchV1)
    assert (shared.photo_id, shared.sha256, shared.person_id) == (
        added.photo_id,
        added.sha256,
        added.person_id,
    )
    assert base64.b64decode(shared.image) == PNG and shared.withheld is None


async def test_a_photo_of_belongings_or_the_whole_body_is_not_shared():
    for kind in ("belongings", "full_body"):
        assert [type(e) for e in await photo_events(kind, PNG)] == [PhotoAddedV1]


async def test_a_face_photo_too_large_for_the_broker_is_shared_without_its_image():
    large = PNG + b"\0" * SHARED_PHOTO_MAX_BYTES  # intake takes it (2 MiB), the broker would not
    _, shared = await photo_events("face", large)

    assert shared.image is None and shared.withheld == "too_large"
    assert shared.size_bytes == len(large)


# ---- search: enrolled once ---------------------------------------------------------------------


class FakeEncoder:
    name = "fake"

    def __init__(self, found: list[DetectedFace]) -> None:
        self.found = found

    def encode(self, image: bytes) -> list[DetectedFace]:
        return self.found


def detected(left: int = 0) -> DetectedFace:
    return DetectedFace(top=0, right=left + 50, bottom=50, left=left, embedding=(0.0,) * 128)


@pytest.fixture
def enrolled(monkeypatch) -> dict:
    """One face in every photo; what search enrolled."""
    world = {"faces": [detected()], "enrolled": []}
    monkeypatch.setattr(faces, "default_encoder", lambda: FakeEncoder(world["faces"]))

    async def enrol(uow, face, **record):
        world["enrolled"].append(record)
        return uuid.uuid4()

    async def nothing(*args, **kwargs):
        return []

    async def no_candidates(uow, case):
        return 0

    monkeypatch.setattr(statements, "enrol", enrol)
    monkeypatch.setattr(statements, "trails", nothing)
    monkeypatch.setattr(statements, "match_case", no_candidates)
    return world


def a_case() -> SearchCase:
    return SearchCase(
        id=uuid.uuid4(),
        person_id=uuid.uuid4(),
        station_id="gushi",
        status="open",
        arrived_at=NOW - timedelta(hours=3),
        opened_at=NOW - timedelta(hours=3),
        notice_due_at=NOW + timedelta(hours=21),
        sex="male",
        categories=[],
    )


def shared(case: SearchCase, **fields) -> faces.EnrolSharedPhoto:
    return faces.EnrolSharedPhoto(
        **{
            "photo_id": uuid.uuid4(),
            "person_id": case.person_id,
            "station_id": "gushi",
            "sha256": "a" * 64,
            "taken_at": NOW - timedelta(hours=1),
            "image": base64.b64encode(PNG).decode(),
            **fields,
        }
    )


async def test_the_photo_is_enrolled_on_the_persons_case_once_per_photo_id(enrolled):
    case = a_case()
    uow = FakeUnitOfWork(rows=[case], now=NOW)
    command = shared(case)

    first = await faces.enrol_shared_photo(command, uow)
    again = await faces.enrol_shared_photo(command, uow)  # a second event for the photo

    assert (first.status, first.case_id) == ("enrolled", case.id)
    assert first.face_record_id is not None and again is first
    (record,) = enrolled["enrolled"]
    assert (record["person_id"], record["case_id"], record["source"]) == (
        case.person_id,
        case.id,
        "admission",
    )
    assert record["photographed_at"] == command.taken_at
    assert len(uow.all(SharedPhoto)) == 1


async def test_a_photo_without_one_face_is_kept_as_not_enrolled_with_the_reason(enrolled):
    enrolled["faces"] = []
    case = a_case()
    uow = FakeUnitOfWork(rows=[case], now=NOW)

    photo = await faces.enrol_shared_photo(shared(case), uow)

    assert photo.status == "not_enrolled" and "no face" in photo.reason
    assert enrolled["enrolled"] == []


async def test_a_withheld_image_leaves_an_upload_to_do(enrolled):
    case = a_case()
    uow = FakeUnitOfWork(rows=[case], now=NOW)

    photo = await faces.enrol_shared_photo(shared(case, image=None, withheld="too_large"), uow)

    assert photo.status == "upload_needed" and "too_large" in photo.reason
    assert photo.case_id == case.id and enrolled["enrolled"] == []


async def test_a_person_without_a_case_is_not_enrolled(enrolled):
    uow = FakeUnitOfWork(now=NOW)

    photo = await faces.enrol_shared_photo(shared(a_case()), uow)

    assert (photo.status, photo.case_id) == ("not_enrolled", None)
    assert enrolled["enrolled"] == []
