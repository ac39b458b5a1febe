"""The photo a family-search notice shows (search.publication_photo and the choice
in search.commands.notices): the person's face alone, resized, derived once; staff
choose it for the case; no public photo of a protected person."""

from __future__ import annotations

import base64
import io
import uuid
from datetime import UTC, datetime, timedelta

import numpy as np
import pytest
from PIL import Image
from support import shared_testdata

from rescue_chassis.auth import Principal
from rescue_chassis.refusals import Conflict, Refused
from rescue_chassis.testing import FakeUnitOfWork
from search import notices
from search.commands import notices as notice_commands
from search.faces.encoder import default_encoder
from search.notices import NoticeStatus
from search.publication_photo import (
    MAX_SIDE,
    FaceBasis,
    KeepPublicationPhoto,
    PhotoStatus,
    Rect,
    crop_box,
    derive,
    keep_publication_photo,
    render,
)
from search.tables import SearchCase
from search.tables.notices import (
    NoticeProtection,
    PublicationPhoto,
    PublicationPhotoChoice,
    SearchNotice,
)

FACES = shared_testdata() / "faces"
NOW = datetime(2026, 12, 7, 9, 0, tzinfo=UTC)


# ---- the crop ----------------------------------------------------------------------


FACE = Rect(top=200, right=600, bottom=400, left=400)


def test_a_lone_face_gets_its_margin_within_the_photo():
    crop = crop_box(1000, 800, FACE, [])
    assert crop == Rect(top=80, right=720, bottom=580, left=280)
    assert crop_box(500, 450, FACE, []) == Rect(top=80, right=500, bottom=450, left=280)


@pytest.mark.parametrize(
    "other",
    [
        Rect(top=220, right=330, bottom=380, left=170),  # left of the face
        Rect(top=220, right=840, bottom=380, left=680),  # right
        Rect(top=20, right=560, bottom=150, left=440),  # above
        Rect(top=470, right=560, bottom=600, left=440),  # below
        Rect(top=60, right=330, bottom=180, left=200),  # above and left
    ],
)
def test_another_face_is_cut_out_with_its_guard_and_the_face_stays(other):
    crop = crop_box(1000, 800, FACE, [other])
    assert crop is not None
    assert not crop.overlaps(other.grown(0.25))
    assert crop.left <= FACE.left and crop.right >= FACE.right
    assert crop.top <= FACE.top and crop.bottom >= FACE.bottom


def test_a_face_overlapping_the_persons_cannot_be_cut_out():
    overlapping = Rect(top=300, right=700, bottom=500, left=500)
    assert crop_box(1000, 800, FACE, [overlapping]) is None


def test_the_published_image_is_small_bare_and_the_same_each_time():
    pixels = np.random.default_rng(3).integers(0, 255, size=(1500, 2000, 3), dtype=np.uint8)
    first = render(pixels, Rect(top=100, right=1900, bottom=1400, left=100))
    again = render(pixels, Rect(top=100, right=1900, bottom=1400, left=100))
    picture = Image.open(io.BytesIO(first.image))
    assert picture.format == "JPEG" and "exif" not in picture.info
    assert max(picture.size) == MAX_SIDE == max(first.width, first.height)
    assert again.image == first.image and again.sha256 == first.sha256


def test_a_group_photo_gives_the_persons_face_alone():
    """The detector's word on it: one face in what is published, the person's."""
    encoder = default_encoder()
    group = (FACES / "test" / "obama_and_biden.jpg").read_bytes()
    faces = encoder.encode(group)
    assert len(faces) >= 2
    biden = encoder.encode((FACES / "train" / "biden" / "biden.jpg").read_bytes())[0]

    published, count, basis = derive(group, faces=faces, enrolled=[list(biden.embedding)])

    assert (count, basis) == (len(faces), FaceBasis.MATCH)
    [seen] = encoder.encode(published.image)
    assert float(np.linalg.norm(seen.vector - biden.vector)) < 0.5
    assert max(published.width, published.height) <= MAX_SIDE


# ---- keeping it when intake shares the photo -----------------------------------------


def a_case(**fields) -> SearchCase:
    values = {
        "id": uuid.uuid4(),
        "person_id": uuid.uuid4(),
        "station_id": "gushi",
        "status": "open",
        "arrived_at": NOW - timedelta(hours=3),
        "opened_at": NOW - timedelta(hours=3),
        "notice_due_at": NOW + timedelta(hours=21),
        "sex": "male",
        "categories": [],
        **fields,
    }
    return SearchCase(**values)


def shared(case: SearchCase, image: bytes | None) -> KeepPublicationPhoto:
    return KeepPublicationPhoto(
        photo_id=uuid.uuid4(),
        person_id=case.person_id,
        station_id=case.station_id,
        sha256="a" * 64,
        taken_at=NOW,
        image=base64.b64encode(image).decode() if image is not None else None,
    )


async def test_a_shared_photo_is_kept_once_as_it_will_be_published():
    case = a_case()
    uow = FakeUnitOfWork(rows=[case], now=NOW)
    command = shared(case, (FACES / "test" / "kit_with_rose.jpg").read_bytes())

    kept = await keep_publication_photo(command, uow)
    again = await keep_publication_photo(command, uow)

    assert kept is again and uow.all(PublicationPhoto) == [kept]
    assert (kept.status, kept.case_id, kept.faces_in_photo) == ("ready", case.id, 2)
    assert len(default_encoder().encode(kept.image)) == 1


async def test_a_withheld_image_or_no_case_gives_no_published_image():
    case = a_case()
    uow = FakeUnitOfWork(rows=[case], now=NOW)
    withheld = await keep_publication_photo(shared(case, None), uow)
    assert withheld.status == PhotoStatus.UNUSABLE and "withheld" in withheld.reason
    nobody = await keep_publication_photo(shared(a_case(), b"x"), uow)
    assert nobody is None


# ---- the choice --------------------------------------------------------------------


def staff() -> Principal:
    return Principal(subject="w1", station_id="gushi", roles=frozenset({"station_staff"}))


def ready_photo(case: SearchCase, **fields) -> PublicationPhoto:
    values = {
        "photo_id": uuid.uuid4(),
        "person_id": case.person_id,
        "case_id": case.id,
        "station_id": case.station_id,
        "source_sha256": "a" * 64,
        "status": "ready",
        "faces_in_photo": 1,
        "face_basis": "only",
        "content_type": "image/jpeg",
        "image": b"\xff\xd8jpeg",
        "sha256": "b" * 64,
        "width": 400,
        "height": 480,
        "prepared_at": NOW,
        **fields,
    }
    return PublicationPhoto(**values)


def choose(case: SearchCase, photo_id: uuid.UUID):
    return notice_commands.ChoosePublicationPhoto(case_id=case.id, photo_id=photo_id)


async def test_staff_choose_one_of_the_persons_photos_and_new_notices_show_it():
    case = a_case()
    photo = ready_photo(case)
    uow = FakeUnitOfWork(actor=staff(), rows=[case, photo], now=NOW)
    assert await notices.chosen_photo_id(uow, case) is None  # none chosen: no photo

    view = await notice_commands.choose_publication_photo(choose(case, photo.photo_id), uow)

    assert view.photo.photo_id == photo.photo_id and view.chosen_by == "w1"
    assert view.notices_reissued == []
    assert await notices.chosen_photo_id(uow, case) == photo.photo_id
    [choice] = uow.all(PublicationPhotoChoice)
    assert choice.chosen_at == NOW


async def test_another_persons_photo_or_an_unusable_one_is_refused_by_its_field():
    case, other = a_case(), a_case()
    theirs = ready_photo(other)
    unusable = ready_photo(case, status="unusable", reason="no face was found in the photo")
    uow = FakeUnitOfWork(actor=staff(), rows=[case, other, theirs, unusable], now=NOW)

    for photo_id, words in (
        (theirs.photo_id, "not a face photo of this case's person"),
        (uuid.uuid4(), "not a face photo of this case's person"),
        (unusable.photo_id, "no face was found"),
    ):
        with pytest.raises(Refused) as refused:
            await notice_commands.choose_publication_photo(choose(case, photo_id), uow)
        [error] = refused.value.errors
        assert error["field"] == "photo_id" and words in error["reason"]
    assert uow.all(PublicationPhotoChoice) == []


async def test_a_protected_person_gets_no_public_photo_even_with_an_override():
    victim = a_case(categories=["domestic_violence_victim"])
    photo = ready_photo(victim)
    uow = FakeUnitOfWork(actor=staff(), rows=[victim, photo], now=NOW)
    with pytest.raises(Conflict) as conflict:
        await notice_commands.choose_publication_photo(choose(victim, photo.photo_id), uow)
    assert conflict.value.status == 409 and conflict.value.type_ == "protected-person"
    assert "domestic_violence_victim" in conflict.value.detail

    # a choice made before the person was marked endangered is not shown from then on
    case = a_case()
    chosen = ready_photo(case)
    uow = FakeUnitOfWork(actor=staff(), rows=[case, chosen], now=NOW)
    await notice_commands.choose_publication_photo(choose(case, chosen.photo_id), uow)
    uow.add(NoticeProtection(case_id=case.id, endangered=True, marked_at=NOW))
    assert await notices.chosen_photo_id(uow, case) is None


async def test_a_new_choice_reissues_the_notices_up_and_withdrawing_it_too(monkeypatch):
    monkeypatch.setattr(notices, "publish_once_committed", lambda uow, ids: None)
    monkeypatch.setattr(notices, "take_down_once_committed", lambda uow, case_id: None)
    case = a_case()
    photo = ready_photo(case)
    up = SearchNotice(
        id=uuid.uuid4(),
        case_id=case.id,
        person_id=case.person_id,
        station_id=case.station_id,
        kind="national",
        status=NoticeStatus.PUBLISHED.value,
        payload={"sex": "male"},
        requested_by="w1",
        requested_at=NOW - timedelta(hours=1),
        external_id="ext-1",
    )
    uow = FakeUnitOfWork(actor=staff(), rows=[case, photo, up], now=NOW)

    view = await notice_commands.choose_publication_photo(choose(case, photo.photo_id), uow)

    [new_id] = view.notices_reissued
    new = await uow.get(SearchNotice, new_id)
    assert new.publication_photo_id == photo.photo_id and new.status == "publishing"
    assert up.status == "takedown_pending" and up.takedown_reason == "superseded:photo_changed"
    # the same choice again changes nothing
    same = await notice_commands.choose_publication_photo(choose(case, photo.photo_id), uow)
    assert same.notices_reissued == []

    withdrawn = await notice_commands.withdraw_publication_photo(
        notice_commands.WithdrawPublicationPhoto(case_id=case.id), uow
    )
    assert withdrawn.photo is None
    [bare] = withdrawn.notices_reissued
    assert (await uow.get(SearchNotice, bare)).publication_photo_id is None
