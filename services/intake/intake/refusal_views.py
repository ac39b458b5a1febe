"""What the refusal routes answer with: a refusal with who it may be (by name, and
by face once search has compared its photos), a person's refusals counted
(repeated refusals, e.g. every night of a cold spell), a refusal's photos."""

from __future__ import annotations

import logging
import uuid
from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import select
from sqlalchemy.orm import defer

from intake import refusal_names
from intake.tables import Person, Refusal, RefusalFaceMatch, RefusalPhoto
from rescue_chassis.commands import UnitOfWork
from rescue_chassis.refusals import NotFound

log = logging.getLogger(__name__)

#: At most this many suggestions of each kind (person records, earlier refusals).
MATCHES = 10


class RefusalView(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    person_id: uuid.UUID = Field(
        description="Minted for the refusal (no person record), or the person staff linked "
        "it to: a person record of the network, or a person met in earlier refusals."
    )
    first_person_id: uuid.UUID = Field(
        description="The id the refusal was announced under (help_refused's key)."
    )
    linked_at: datetime | None = Field(description="When staff linked it to a known person.")
    station_id: str
    found_place: str
    found_at: datetime
    description: str
    name: str | None
    advice_given: str
    recorded_by: str
    escorting_unit: str | None
    recorded_at: datetime


class PossibleMatch(BaseModel):
    """A record that may be the same person, by name or by face: link it with
    POST /refusals/{id}/person if staff judge it is (nothing is linked for them)."""

    kind: Literal["person", "refusal"] = Field(
        description="`person`: a person record of the network; `refusal`: an earlier refusal."
    )
    person_id: uuid.UUID
    refusal_id: uuid.UUID | None = Field(description="For `refusal`: the earlier refusal.")
    station_id: str
    name: str | None = Field(
        description="By name: the name on that record that matched. By face: the record's "
        "name when the caller sees it, else null."
    )
    found_at: datetime | None = Field(description="For `refusal`: when that person was met.")
    by: Literal["name", "face"] = Field(
        default="name",
        description="`name`: the name given matches; `face`: search found the face of a "
        "photo of this refusal on that record (see `similarity`).",
    )
    similarity: float | None = Field(
        default=None, description="By face: 0..1 (0.5 is the usual same-person line)."
    )


class RefusalWithMatches(RefusalView):
    possible_matches: list[PossibleMatch] = Field(
        description="Records in the caller's scope whose name matches the name given "
        "(normalised), persons first, then refusals newest first; then the records of any "
        "station search found with the face of the refusal's photos (`by: face`), most "
        "alike first. Empty for a refusal linked to a person."
    )


class PersonRefusals(BaseModel):
    person_id: uuid.UUID
    person_record: bool = Field(description="A person record of the network has this id.")
    count: int = Field(description="The person's refusals in the whole network.")
    repeated: bool = Field(description="More than one refusal.")
    refusals: list[RefusalView] = Field(
        description="Those of the refusals the caller sees (its station's; the center: all), "
        "newest first."
    )


async def possible_matches(uow: UnitOfWork, refusal: Refusal) -> list[PossibleMatch]:
    """Who the person of an unlinked refusal may be, by the name they gave."""
    key = refusal.name_key
    if key is None or refusal.linked_at is not None:
        return []
    persons = await refusal_names.persons_named(uow, key, MATCHES)
    earlier = [
        r
        for r in await uow.find(Refusal, name_key=key)
        if r.id != refusal.id and r.person_id != refusal.person_id and uow.sees(r.station_id)
    ]
    earlier.sort(key=lambda r: r.found_at, reverse=True)
    return [
        PossibleMatch(
            kind="person",
            person_id=p.id,
            refusal_id=None,
            station_id=p.station_id,
            name=p.name,
            found_at=None,
        )
        for p in persons
        if p.id != refusal.person_id
    ] + [
        PossibleMatch(
            kind="refusal",
            person_id=r.person_id,
            refusal_id=r.id,
            station_id=r.station_id,
            name=r.name or "",
            found_at=r.found_at,
        )
        for r in earlier[:MATCHES]
    ]


def _name_of(person: Person) -> str | None:
    return person.full_name or person.claimed_name or next(iter(person.stated_names or []), None)


async def face_matches(uow: UnitOfWork, refusal: Refusal) -> list[PossibleMatch]:
    """Who search found with the face of the refusal's photos, most alike first; an
    earlier refusal as its person is now (it may have been linked since)."""
    if refusal.linked_at is not None:
        return []
    best: dict[tuple[str, uuid.UUID], PossibleMatch] = {}
    for match in await uow.find(RefusalFaceMatch, refusal_id=refusal.id):
        if match.kind == "refusal" and match.earlier_refusal_id is not None:
            earlier = await uow.get(Refusal, match.earlier_refusal_id)
            found = PossibleMatch(
                kind="refusal",
                person_id=earlier.person_id if earlier else match.person_id,
                refusal_id=match.earlier_refusal_id,
                station_id=earlier.station_id if earlier else match.station_id,
                name=earlier.name if earlier and uow.sees(earlier.station_id) else None,
                found_at=earlier.found_at if earlier else None,
                by="face",
                similarity=match.similarity,
            )
        else:
            person = await uow.get(Person, match.person_id)
            found = PossibleMatch(
                kind="person",
                person_id=match.person_id,
                refusal_id=None,
                station_id=person.station_id if person else match.station_id,
                name=_name_of(person) if person and uow.sees(person.station_id) else None,
                found_at=None,
                by="face",
                similarity=match.similarity,
            )
        key = (found.kind, found.person_id)
        if found.person_id == refusal.person_id:
            continue
        if key not in best or best[key].similarity < found.similarity:
            best[key] = found
    return sorted(best.values(), key=lambda m: -(m.similarity or 0))


async def with_matches(uow: UnitOfWork, refusal: Refusal) -> RefusalWithMatches:
    view = RefusalView.model_validate(refusal)
    matches = await possible_matches(uow, refusal) + await face_matches(uow, refusal)
    return RefusalWithMatches(**dict(view), possible_matches=matches)


async def person_refusals(uow: UnitOfWork, person_id: uuid.UUID) -> PersonRefusals:
    """The person's refusals, counted in the whole network, listed as far as the caller
    sees; a 404 for a person the caller sees neither the record nor a refusal of."""
    record = await uow.get(Person, person_id)
    every = await uow.find(Refusal, person_id=person_id)
    seen = sorted(
        (r for r in every if uow.sees(r.station_id)), key=lambda r: r.found_at, reverse=True
    )
    if not seen and (record is None or not uow.sees(record.station_id)):
        raise NotFound("person")
    return PersonRefusals(
        person_id=person_id,
        person_record=record is not None,
        count=len(every),
        repeated=len(every) > 1,
        refusals=[RefusalView.model_validate(r) for r in seen],
    )


# ---- a refusal's photos ----------------------------------------------------------


class RefusalPhotoView(BaseModel):
    """A refusal photo's metadata and what search made of it; the image is at `url`."""

    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    refusal_id: uuid.UUID
    station_id: str
    content_type: str
    size_bytes: int
    sha256: str = Field(description="SHA-256 of the image bytes, hex.")
    taken_at: datetime
    added_at: datetime
    withheld: str | None = Field(
        description="Shared with search without its image, and why (`unreadable`); else null."
    )
    recognised_at: datetime | None = Field(
        description="When search answered with who the face may be (null: not yet)."
    )
    recognition_note: str | None = Field(
        description="Why search compared nothing: no face, several faces, no image."
    )
    url: str = Field(default="", description="Where to read the image.")

    @classmethod
    def of(cls, photo: RefusalPhoto) -> RefusalPhotoView:
        view = cls.model_validate(photo)
        view.url = f"/refusals/{photo.refusal_id}/photos/{photo.id}"
        return view


async def refusal_photos(uow: UnitOfWork, refusal: Refusal) -> list[RefusalPhotoView]:
    """The refusal's photos (metadata only), earliest taken first."""
    photos = await uow.session.scalars(
        select(RefusalPhoto)
        .options(defer(RefusalPhoto.image))
        .where(RefusalPhoto.refusal_id == refusal.id)
        .order_by(RefusalPhoto.taken_at, RefusalPhoto.added_at)
    )
    return [RefusalPhotoView.of(p) for p in photos.all()]


async def read_refusal_photo(
    uow: UnitOfWork, refusal: Refusal, photo_id: uuid.UUID
) -> RefusalPhoto:
    """One of the refusal's photos, image included (404 for another's). Face data is
    sensitive (PIPL): every read is logged."""
    photo = await uow.get(RefusalPhoto, photo_id)
    if photo is None or photo.refusal_id != refusal.id:
        raise NotFound("photo")
    log.info(
        "refusal photo read",
        extra={
            "photo_id": str(photo.id),
            "refusal_id": str(refusal.id),
            "subject": uow.actor.subject,
            "station_id": uow.actor.station_id,
        },
    )
    return photo
