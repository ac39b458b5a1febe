"""A refusal's face photo (劝导记录的面部照片), and who search recognises in it.

The photo is kept as a person's photos are and shared with search
(``refusal_photo_shared``), which compares the face with every face of the
network (admissions' and earlier refusals') and answers with who it may be
(``refusal_face_recognised``). Those are suggestions only: GET /refusals/{id}
lists them in ``possible_matches`` (``by: "face"``), and linking stays staff's
choice (POST /refusals/{id}/person): a wrong merge is worse than a missed one."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import logging
import uuid
from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field

from intake.broker_images import fit_for_broker
from intake.care_rules import MAX_PHOTO_BYTES, check_time, decode_photo
from intake.refusal_views import RefusalPhotoView
from intake.tables import Refusal, RefusalFaceMatch, RefusalPhoto
from rescue_chassis.commands import Command, UnitOfWork
from rescue_chassis.moments import PastInstant
from rescue_chassis.problems import base64_field
from rescue_events.contracts.intake_arrivals import RefusalPhotoSharedV1, RefusalPhotoWithheld
from rescue_events.contracts.search import RefusalFaceCandidate, RefusalFaceRecognisedV1

log = logging.getLogger(__name__)


class RefusalPhotoUpload(BaseModel):
    """A face photo of the person who refused, as JSON: the image is base64 text."""

    model_config = ConfigDict(extra="forbid")

    image: str = Field(
        description=f"The JPEG or PNG image of the person's face, base64 (standard alphabet, "
        f"with padding); at most {MAX_PHOTO_BYTES} bytes decoded. Larger images are refused "
        f"with 413.",
        examples=["/9j/4AAQSkZJRgABAQAAAQABAAD/2wBDAAgGBgcGBQgHBwcJCQgKDBQNDAsLDBkSEw8U"],
        json_schema_extra=base64_field("the photo"),
    )
    taken_at: PastInstant = Field(
        description="When the photo was taken, with its offset.",
        examples=["2026-11-23T21:20:00+08:00"],
    )


class AddRefusalPhoto(Command):
    refusal_id: uuid.UUID
    upload: RefusalPhotoUpload


async def add_refusal_photo(command: AddRefusalPhoto, uow: UnitOfWork) -> RefusalPhotoView:
    """The photo kept with its SHA-256 and shared with search to be recognised
    (``refusal_photo_shared``: the image, or a smaller copy when it is too large
    for the broker)."""
    upload = command.upload
    image, content_type = decode_photo(upload.image)  # 413 or 422 before any lookup
    refusal = await uow.load(Refusal, command.refusal_id, what="refusal")
    check_time("taken_at", upload.taken_at, now=uow.now)
    fitting = await asyncio.to_thread(fit_for_broker, image)  # CPU-bound for large images
    photo = RefusalPhoto(
        id=uuid.uuid4(),
        refusal_id=refusal.id,
        station_id=refusal.station_id,
        content_type=content_type,
        size_bytes=len(image),
        sha256=hashlib.sha256(image).hexdigest(),
        image=image,
        taken_at=upload.taken_at,
        added_by=uow.actor.subject,
        added_at=uow.now,
        withheld=None if fitting is not None else RefusalPhotoWithheld.UNREADABLE.value,
    )
    uow.add(photo)
    resized = fitting is not None and fitting is not image
    await uow.publish(
        RefusalPhotoSharedV1(
            person_id=refusal.person_id,
            photo_id=photo.id,
            refusal_id=refusal.id,
            station_id=refusal.station_id,
            sha256=photo.sha256,
            taken_at=upload.taken_at,
            image=None
            if fitting is None
            else (base64.b64encode(fitting).decode() if resized else upload.image),
            resized_to_fit=resized,
            withheld=None if fitting is not None else RefusalPhotoWithheld.UNREADABLE,
        )
    )
    return RefusalPhotoView.of(photo)


class RecordFaceCandidates(Command):
    """Search's answer for one refusal photo."""

    refusal_id: uuid.UUID
    photo_id: uuid.UUID
    candidates: list[RefusalFaceCandidate]
    reason: str | None = None
    recognised_at: datetime

    @classmethod
    def of(cls, event: RefusalFaceRecognisedV1) -> RecordFaceCandidates:
        return cls(
            refusal_id=event.refusal_id,
            photo_id=event.photo_id,
            candidates=event.candidates,
            reason=event.reason,
            recognised_at=event.recognised_at,
        )


async def record_face_candidates(command: RecordFaceCandidates, uow: UnitOfWork) -> None:
    """Who search found with the photo's face, kept on the refusal as suggestions
    (never a link), once per photo: an answer seen before is left as it was."""
    photo = await uow.get(RefusalPhoto, command.photo_id, lock=True)
    if photo is None or photo.refusal_id != command.refusal_id:
        log.warning(
            "face answer for an unknown refusal photo", extra={"photo_id": str(command.photo_id)}
        )
        return
    if photo.recognised_at is not None:
        return
    photo.recognised_at = command.recognised_at
    photo.recognition_note = command.reason
    seen: set[tuple[str, uuid.UUID]] = set()
    for candidate in command.candidates:
        key = (candidate.kind.value, candidate.person_id)
        if key in seen:
            continue
        seen.add(key)
        uow.add(
            RefusalFaceMatch(
                id=uuid.uuid4(),
                refusal_id=photo.refusal_id,
                photo_id=photo.id,
                kind=candidate.kind.value,
                person_id=candidate.person_id,
                earlier_refusal_id=candidate.refusal_id,
                station_id=candidate.station_id,
                similarity=candidate.similarity,
                recorded_at=uow.now,
            )
        )
