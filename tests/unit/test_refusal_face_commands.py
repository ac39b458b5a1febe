"""A person who refused help recognised by face (issue 25): intake shares the
refusal's face photo, search compares it with the network's faces and answers with
who it may be, intake lists them as suggestions; on in-memory units of work."""

from __future__ import annotations

import base64
import hashlib
import uuid
from datetime import UTC, datetime, timedelta

import pytest

from intake.care_rules import MAX_PHOTO_BYTES, PhotoTooLarge
from intake.commands import refusal_photos
from intake.commands.refusal_photos import (
    AddRefusalPhoto,
    RecordFaceCandidates,
    RefusalPhotoUpload,
    add_refusal_photo,
    record_face_candidates,
)
from intake.refusal_views import with_matches
from intake.tables import Person, Refusal, RefusalFaceMatch, RefusalPhoto
from rescue_chassis.auth import Principal
from rescue_chassis.refusals import NotFound, Refused
from rescue_chassis.testing import FakeUnitOfWork
from rescue_events.contracts.intake_arrivals import RefusalPhotoSharedV1
from rescue_events.contracts.search import (
    RefusalFaceCandidate,
    RefusalFaceKind,
    RefusalFaceRecognisedV1,
)
from search import statements
from search.commands import faces, refusal_faces
from search.commands.refusal_faces import RecogniseRefusalFace, recognise_refusal_face
from search.faces.encoder import DetectedFace
from search.faces.store import TrailPerson, TrailStay, similarity
from search.tables.refusal_faces import RefusalFace

NOW = datetime(2026, 12, 7, 12, 0, tzinfo=UTC)
PNG = b"\x89PNG\r\n\x1a\n" + b"\0" * 64


def worker(station_id: str = "gushi") -> Principal:
    return Principal(subject="w1", station_id=station_id, roles=frozenset({"station_staff"}))


def fake(*rows, station_id: str = "gushi") -> FakeUnitOfWork:
    return FakeUnitOfWork(actor=worker(station_id), rows=rows, now=NOW)


def refusal(station_id: str = "gushi", *, name: str | None = None, linked: bool = False):
    person_id = uuid.uuid4()
    return Refusal(
        id=uuid.uuid4(),
        person_id=person_id,
        first_person_id=person_id,
        station_id=station_id,
        found_place="固始县汽车站",
        found_at=NOW - timedelta(hours=2),
        description="男，约50岁",
        name=name,
        name_key=None,
        advice_given="告知求助热线",
        recorded_by="王晓红",
        recorded_at=NOW - timedelta(hours=2),
        entered_by="w1",
        linked_at=NOW if linked else None,
    )


def a_person(station_id: str = "xixian", **fields) -> Person:
    return Person(
        id=uuid.uuid4(),
        station_id=station_id,
        status="discharged",
        identity_status="unknown",
        sex="male",
        stated_names=[],
        stated_places=[],
        categories=[],
        **fields,
    )


def upload(image: bytes = PNG) -> RefusalPhotoUpload:
    return RefusalPhotoUpload(
        image=base64.b64encode(image).decode(), taken_at=NOW - timedelta(hours=1)
    )


# ---- intake: the photo kept and shared ----------------------------------------------------


async def test_a_refusal_photo_is_kept_and_shared_with_search_under_the_refusals_person():
    refused = refusal()
    uow = fake(refused)

    view = await add_refusal_photo(AddRefusalPhoto(refusal_id=refused.id, upload=upload()), uow)

    (shared,) = uow.events
    assert isinstance(shared, RefusalPhotoSharedV1)
    assert (shared.person_id, shared.refusal_id, shared.photo_id, shared.station_id) == (
        refused.person_id,
        refused.id,
        view.id,
        "gushi",
    )
    assert shared.sha256 == hashlib.sha256(PNG).hexdigest() == view.sha256
    assert base64.b64decode(shared.image) == PNG and not shared.resized_to_fit
    assert shared.withheld is None
    (kept,) = uow.all(RefusalPhoto)
    assert kept.image == PNG and view.url == f"/refusals/{refused.id}/photos/{view.id}"


async def test_another_stations_refusal_is_a_404_and_nothing_is_shared():
    refused = refusal("gushi")
    uow = fake(refused, station_id="xixian")

    with pytest.raises(NotFound):
        await add_refusal_photo(AddRefusalPhoto(refusal_id=refused.id, upload=upload()), uow)
    assert uow.events == [] and uow.all(RefusalPhoto) == []


async def test_a_photo_that_is_no_image_or_too_large_is_refused_like_a_persons_photo():
    refused = refusal()
    command = AddRefusalPhoto(refusal_id=refused.id, upload=upload(b"not an image"))
    with pytest.raises(Refused) as refusal_of_it:
        await add_refusal_photo(command, fake(refused))
    assert refusal_of_it.value.field == "image"

    large = AddRefusalPhoto(refusal_id=refused.id, upload=upload(PNG + b"\0" * MAX_PHOTO_BYTES))
    with pytest.raises(PhotoTooLarge):
        await add_refusal_photo(large, fake(refused))


async def test_a_photo_too_large_for_the_broker_travels_as_a_smaller_copy(monkeypatch):
    monkeypatch.setattr(refusal_photos, "fit_for_broker", lambda image: b"\xff\xd8\xffsmall")
    refused = refusal()
    uow = fake(refused)

    await add_refusal_photo(AddRefusalPhoto(refusal_id=refused.id, upload=upload()), uow)

    (shared,) = uow.events
    assert base64.b64decode(shared.image) == b"\xff\xd8\xffsmall" and shared.resized_to_fit
    assert shared.sha256 == hashlib.sha256(PNG).hexdigest()  # of the photo kept


async def test_a_photo_no_copy_can_be_made_of_is_shared_without_its_image(monkeypatch):
    monkeypatch.setattr(refusal_photos, "fit_for_broker", lambda image: None)
    refused = refusal()
    uow = fake(refused)

    view = await add_refusal_photo(AddRefusalPhoto(refusal_id=refused.id, upload=upload()), uow)

    (shared,) = uow.events
    assert shared.image is None and shared.withheld == "unreadable"
    assert view.withheld == "unreadable"


# ---- intake: search's answer kept as suggestions ---------------------------------------------


def photo_of(refused: Refusal) -> RefusalPhoto:
    return RefusalPhoto(
        id=uuid.uuid4(),
        refusal_id=refused.id,
        station_id=refused.station_id,
        content_type="image/png",
        size_bytes=len(PNG),
        sha256=hashlib.sha256(PNG).hexdigest(),
        image=PNG,
        taken_at=NOW - timedelta(hours=1),
        added_by="w1",
        added_at=NOW - timedelta(hours=1),
    )


def answer(photo: RefusalPhoto, *candidates: RefusalFaceCandidate, reason=None):
    return RecordFaceCandidates(
        refusal_id=photo.refusal_id,
        photo_id=photo.id,
        candidates=list(candidates),
        reason=reason,
        recognised_at=NOW,
    )


def candidate(person_id, kind="person", similarity=0.7, station_id="xixian", refusal_id=None):
    return RefusalFaceCandidate(
        person_id=person_id,
        similarity=similarity,
        station_id=station_id,
        kind=RefusalFaceKind(kind),
        refusal_id=refusal_id,
    )


async def test_the_faces_found_are_listed_after_the_names_with_how_alike_once_per_photo():
    refused = refusal(name="李四")
    photo = photo_of(refused)
    known = a_person("xixian", claimed_name="张三")
    earlier = refusal("gushi", name="老王")
    uow = fake(refused, photo, known, earlier)

    await record_face_candidates(
        answer(
            photo,
            candidate(known.id, similarity=0.62),
            candidate(earlier.person_id, "refusal", 0.71, "gushi", earlier.id),
        ),
        uow,
    )
    # the same answer again (redelivered) changes nothing
    await record_face_candidates(answer(photo, candidate(uuid.uuid4(), similarity=0.9)), uow)
    view = await with_matches(uow, refused)

    assert len(uow.all(RefusalFaceMatch)) == 2 and photo.recognised_at == NOW
    assert [
        (m.by, m.kind, m.person_id, m.refusal_id, m.similarity) for m in view.possible_matches
    ] == [
        ("face", "refusal", earlier.person_id, earlier.id, 0.71),
        ("face", "person", known.id, None, 0.62),
    ]
    # another station's person record: its name is not told; the station's refusal's is
    assert [m.name for m in view.possible_matches] == ["老王", None]
    assert uow.events == []  # a suggestion, never a link


async def test_an_earlier_refusal_linked_since_is_suggested_as_its_person_now():
    refused = refusal()
    photo = photo_of(refused)
    earlier = refusal()
    minted = earlier.person_id
    known = a_person("gushi", full_name="张三")
    earlier.person_id, earlier.linked_at = known.id, NOW  # linked by staff meanwhile
    uow = fake(refused, photo, earlier, known)

    await record_face_candidates(
        answer(photo, candidate(minted, "refusal", 0.7, "gushi", earlier.id)), uow
    )

    [match] = (await with_matches(uow, refused)).possible_matches
    assert (match.kind, match.person_id, match.refusal_id) == ("refusal", known.id, earlier.id)


async def test_a_linked_refusal_or_its_own_person_lists_no_face_match():
    refused = refusal()
    photo = photo_of(refused)
    uow = fake(refused, photo)
    await record_face_candidates(answer(photo, candidate(refused.person_id)), uow)
    assert (await with_matches(uow, refused)).possible_matches == []

    linked = refusal(linked=True)
    photo = photo_of(linked)
    uow = fake(linked, photo)
    await record_face_candidates(answer(photo, candidate(uuid.uuid4())), uow)
    assert (await with_matches(uow, linked)).possible_matches == []


async def test_no_single_face_is_noted_on_the_photo():
    refused = refusal()
    photo = photo_of(refused)
    uow = fake(refused, photo)

    await record_face_candidates(answer(photo, reason="image: no face was found"), uow)

    assert photo.recognition_note == "image: no face was found" and photo.recognised_at == NOW
    assert uow.all(RefusalFaceMatch) == []


def test_the_answer_reads_from_the_event():
    photo_id, refusal_id = uuid.uuid4(), uuid.uuid4()
    event = RefusalFaceRecognisedV1(
        person_id=uuid.uuid4(),
        refusal_id=refusal_id,
        photo_id=photo_id,
        station_id="gushi",
        candidates=[candidate(uuid.uuid4())],
        recognised_at=NOW,
    )
    command = RecordFaceCandidates.of(event)
    assert (command.photo_id, command.refusal_id, len(command.candidates)) == (
        photo_id,
        refusal_id,
        1,
    )


# ---- search: the face compared, kept, answered ------------------------------------------------


class FakeEncoder:
    name = "fake"

    def __init__(self, found: list[DetectedFace]) -> None:
        self.found = found

    def encode(self, image: bytes) -> list[DetectedFace]:
        return self.found


def detected(left: int = 0) -> DetectedFace:
    return DetectedFace(top=0, right=left + 50, bottom=50, left=left, embedding=(0.1,) * 128)


def trail(person_id, distance, station_id="xixian", source="admission") -> TrailPerson:
    stay = TrailStay(
        record_id=uuid.uuid4(),
        station_id=station_id,
        source=source,
        case_id=uuid.uuid4() if source == "admission" else None,
        report_id=uuid.uuid4() if source == "report" else None,
        when=NOW - timedelta(days=30),
        photographed_at=None,
        enrolled_at=NOW - timedelta(days=30),
        found_place=None,
        distance=distance,
        similarity=similarity(distance),
    )
    return TrailPerson(
        person_id=person_id, similarity=similarity(distance), distance=distance, stays=(stay,)
    )


@pytest.fixture
def network(monkeypatch) -> dict:
    """One face in every photo; the faces of the network search compares with."""
    world = {"faces": [detected()], "trails": [], "refusals": [], "protected": {}, "asked": []}
    monkeypatch.setattr(faces, "default_encoder", lambda: FakeEncoder(world["faces"]))

    async def trails(uow, face, **kwargs):
        world["asked"].append(kwargs)
        return world["trails"]

    async def nearest_refusals(uow, vector, **kwargs):
        world["asked"].append(kwargs)
        return world["refusals"]

    async def protected_persons(uow, person_ids):
        asked = set(person_ids)
        return {p: s for p, s in world["protected"].items() if p in asked}

    monkeypatch.setattr(statements, "trails", trails)
    monkeypatch.setattr(refusal_faces, "nearest_refusals", nearest_refusals)
    monkeypatch.setattr(refusal_faces, "protected_persons", protected_persons)
    return world


def shared(**fields) -> RecogniseRefusalFace:
    return RecogniseRefusalFace(
        **{
            "photo_id": uuid.uuid4(),
            "refusal_id": uuid.uuid4(),
            "person_id": uuid.uuid4(),
            "station_id": "gushi",
            "sha256": "a" * 64,
            "taken_at": NOW - timedelta(hours=1),
            "image": base64.b64encode(PNG).decode(),
            **fields,
        }
    )


async def test_a_refusal_face_finds_persons_and_earlier_refusals_and_is_kept_once(network):
    admitted, family, far = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
    earlier_person, earlier_refusal = uuid.uuid4(), uuid.uuid4()
    network["trails"] = [
        trail(admitted, 0.3),
        trail(family, 0.2, source="report"),  # a family's photo: no person of the network
        trail(far, 0.65),  # beyond the close distance
    ]
    network["refusals"] = [(earlier_refusal, earlier_person, "huaibin", 0.4)]
    uow = FakeUnitOfWork(now=NOW)
    command = shared()

    kept = await recognise_refusal_face(command, uow)
    again = await recognise_refusal_face(command, uow)  # the event redelivered

    assert again is kept and len(uow.events) == 1
    (answered,) = uow.events
    assert isinstance(answered, RefusalFaceRecognisedV1)
    assert (answered.person_id, answered.refusal_id, answered.photo_id) == (
        command.person_id,
        command.refusal_id,
        command.photo_id,
    )
    assert [(c.kind, c.person_id, c.station_id, c.refusal_id) for c in answered.candidates] == [
        ("person", admitted, "xixian", None),
        ("refusal", earlier_person, "huaibin", earlier_refusal),
    ]
    assert answered.candidates[0].similarity == round(similarity(0.3), 3)
    assert answered.reason is None
    # its own person is never compared with itself
    assert network["asked"][0]["exclude_person_id"] == command.person_id
    assert network["asked"][1]["refusal_id"] == command.refusal_id
    # kept for later refusals: the face's numbers, never the image
    assert (kept.status, kept.encoder, kept.candidates) == ("compared", "fake", 2)
    assert len(kept.embedding) == 128 and uow.all(RefusalFace) == [kept]


async def test_a_photo_without_one_face_is_answered_with_the_reason_and_no_one(network):
    for found, words in (([], "no face"), ([detected(), detected(60)], "2 faces")):
        network["faces"] = found
        uow = FakeUnitOfWork(now=NOW)

        kept = await recognise_refusal_face(shared(), uow)

        (answered,) = uow.events
        assert answered.candidates == [] and words in answered.reason
        assert (kept.status, kept.embedding) == ("not_compared", None)


async def test_a_photo_shared_without_its_image_is_answered_with_the_reason(network):
    uow = FakeUnitOfWork(now=NOW)

    await recognise_refusal_face(shared(image=None, withheld="unreadable"), uow)

    (answered,) = uow.events
    assert answered.candidates == [] and "unreadable" in answered.reason


async def test_a_protected_person_is_suggested_to_her_own_station_only(network):
    hers, moved, his = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
    network["trails"] = [
        trail(hers, 0.3, station_id="gushi"),
        trail(moved, 0.35, station_id="gushi"),  # her face taken here, her case now elsewhere
        trail(his, 0.4, station_id="xixian"),
    ]
    network["protected"] = {hers: {"gushi"}, moved: {"xixian"}}

    uow = FakeUnitOfWork(now=NOW)
    await recognise_refusal_face(shared(station_id="gushi"), uow)
    assert [c.person_id for c in uow.events[0].candidates] == [hers, his]

    uow = FakeUnitOfWork(now=NOW)
    await recognise_refusal_face(shared(station_id="xixian"), uow)
    assert [c.person_id for c in uow.events[0].candidates] == [his]
