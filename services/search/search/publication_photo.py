"""The photo a family-search notice shows (the national family-search site's
notices show one): staff choose one of the person's face photos intake shared;
the published image is that person's face, cropped so that nobody else's face is
in it, resized and re-encoded as a JPEG without metadata (no EXIF: no place, no
camera).

The image is derived once, when search receives the photo
(``photo_shared_for_search``), and kept: search never keeps the photo itself, and
every publication of a notice (a retry, a re-issue) sends the same bytes.

Whose face: the photo's only face; among several, the one that matches the
person's enrolled face (their face records); else the largest (an admission's
photo is of the person). A photo whose other faces cannot be cut out (they
overlap the person's) is kept as ``unusable`` with the reason.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import hashlib
import io
import logging
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from enum import StrEnum

import numpy as np
from PIL import Image

from rescue_chassis.commands import Command, UnitOfWork
from rescue_events.contracts.intake_care import PhotoSharedForSearchV1
from search.faces.encoder import DetectedFace, PhotoProblem, decode_photo, default_encoder
from search.ranking import FACE_MATCH_DISTANCE
from search.tables import SearchCase
from search.tables.escalations import SharedPhoto
from search.tables.faces import FaceRecord
from search.tables.notices import PublicationPhoto

log = logging.getLogger(__name__)

MAX_SIDE = 640  # the published image's longest side, in pixels
JPEG_QUALITY = 85
CONTENT_TYPE = "image/jpeg"
# Around the face, in face sizes: the head and a little of the shoulders.
MARGIN = 0.6
# Another face's box grows by this share of its size before it is cut out, so no
# part of it (ear, chin, hair) that a detector could take for a face stays.
GUARD = 0.25
# When the margin still shows another face: the person's face alone, barely wider.
TIGHT_MARGIN = 0.15


class PhotoStatus(StrEnum):
    READY = "ready"
    UNUSABLE = "unusable"


class FaceBasis(StrEnum):
    ONLY = "only"  # the photo's one face
    MATCH = "match"  # among several, the one matching the person's enrolled face
    LARGEST = "largest"  # among several, none matching: the largest


# ---- the crop (no I/O) ----------------------------------------------------------


@dataclass(frozen=True)
class Rect:
    """A box in pixels: top and left inclusive, bottom and right exclusive."""

    top: int
    right: int
    bottom: int
    left: int

    @classmethod
    def of(cls, face: DetectedFace | FaceRecord) -> Rect:
        if isinstance(face, DetectedFace):
            return cls(face.top, face.right, face.bottom, face.left)
        return cls(face.box_top, face.box_right, face.box_bottom, face.box_left)

    @property
    def width(self) -> int:
        return max(0, self.right - self.left)

    @property
    def height(self) -> int:
        return max(0, self.bottom - self.top)

    @property
    def area(self) -> int:
        return self.width * self.height

    def grown(self, share: float) -> Rect:
        dx, dy = round(self.width * share), round(self.height * share)
        return Rect(self.top - dy, self.right + dx, self.bottom + dy, self.left - dx)

    def overlaps(self, other: Rect) -> bool:
        return (
            self.left < other.right
            and other.left < self.right
            and self.top < other.bottom
            and other.top < self.bottom
        )


def crop_box(
    width: int,
    height: int,
    face: Rect,
    others: Sequence[Rect],
    *,
    margin: float = MARGIN,
    guard: float = GUARD,
) -> Rect | None:
    """The crop of a ``width``×``height`` photo around ``face``: the face with a
    margin (more below, for the shoulders), narrowed on one side for each other
    face (grown by ``guard``) so that none of it is left. None when another face
    overlaps this one (it cannot be cut out)."""
    dx, dy = round(face.width * margin), round(face.height * margin)
    crop = Rect(
        top=max(0, face.top - dy),
        right=min(width, face.right + dx),
        bottom=min(height, face.bottom + round(dy * 1.5)),
        left=max(0, face.left - dx),
    )
    for other in sorted(others, key=lambda o: -o.area):
        for box in (other.grown(guard), other):  # the guard if it fits, else the face itself
            if not crop.overlaps(box):
                break
            options = [
                replace(crop, left=box.right) if box.right <= face.left else None,
                replace(crop, right=box.left) if box.left >= face.right else None,
                replace(crop, top=box.bottom) if box.bottom <= face.top else None,
                replace(crop, bottom=box.top) if box.top >= face.bottom else None,
            ]
            feasible = [o for o in options if o is not None]
            if feasible:
                crop = max(feasible, key=lambda o: o.area)
                break
        else:
            return None
    return crop


@dataclass(frozen=True)
class Published:
    image: bytes
    width: int
    height: int

    @property
    def sha256(self) -> str:
        return hashlib.sha256(self.image).hexdigest()


def render(pixels: np.ndarray, crop: Rect, max_side: int = MAX_SIDE) -> Published:
    """The crop of an upright RGB photo, its longest side at most ``max_side``, as a
    baseline JPEG without metadata; the same pixels give the same bytes."""
    picture = Image.fromarray(pixels).crop((crop.left, crop.top, crop.right, crop.bottom))
    scale = min(1.0, max_side / max(picture.width, picture.height))
    if scale < 1.0:
        size = (max(1, round(picture.width * scale)), max(1, round(picture.height * scale)))
        picture = picture.resize(size, Image.Resampling.LANCZOS)
    out = io.BytesIO()
    picture.save(out, format="JPEG", quality=JPEG_QUALITY, optimize=False, progressive=False)
    return Published(out.getvalue(), picture.width, picture.height)


def persons_face(
    faces: Sequence[DetectedFace], enrolled: Sequence[Sequence[float]]
) -> tuple[int, FaceBasis]:
    """Which of the photo's faces (largest first) is the person's, and why."""
    if len(faces) == 1:
        return 0, FaceBasis.ONLY
    if enrolled:
        known = np.asarray(enrolled, dtype=np.float32)
        distances = [float(np.min(np.linalg.norm(known - f.vector, axis=1))) for f in faces]
        best = int(np.argmin(distances))
        if distances[best] <= FACE_MATCH_DISTANCE:
            return best, FaceBasis.MATCH
    return 0, FaceBasis.LARGEST


class Unusable(ValueError):
    """The photo cannot give a published image; the message says why, for staff."""


def derive(
    image: bytes,
    *,
    faces: Sequence[DetectedFace] | None,
    face: Rect | None = None,
    enrolled: Sequence[Sequence[float]] = (),
    encoder=None,
) -> tuple[Published, int, FaceBasis]:
    """The published image of a photo (CPU-bound: run it in a thread), with how
    many faces the photo shows and how the person's was told. ``face`` with
    ``faces=None``: the photo's one face is known already (it was enrolled)."""
    try:
        pixels = decode_photo(image)
    except PhotoProblem as problem:
        raise Unusable(f"the photo cannot be read ({problem.reason})") from None
    height, width = pixels.shape[:2]
    if faces is None:
        if face is None:
            raise ValueError("the faces, or the one face")
        target, others, count, basis = face, [], 1, FaceBasis.ONLY
    else:
        if not faces:
            raise Unusable("no face was found in the photo")
        index, basis = persons_face(faces, enrolled)
        target = Rect.of(faces[index])
        others = [Rect.of(f) for i, f in enumerate(faces) if i != index]
        count = len(faces)
    crop = crop_box(width, height, target, others)
    if crop is None:
        raise Unusable("another face overlaps the person's: it cannot be cut out")
    published = render(pixels, crop)
    if others:
        # the detector has the last word: no second face may be found in what goes out
        check = encoder or default_encoder()
        if len(check.encode(published.image)) > 1:
            tight = crop_box(width, height, target, others, margin=TIGHT_MARGIN)
            if tight is None:
                raise Unusable("another face overlaps the person's: it cannot be cut out")
            published = render(pixels, tight)
            if len(check.encode(published.image)) > 1:
                raise Unusable("other faces stay in the photo however it is cropped")
    return published, count, basis


# ---- keeping it (the handler of photo_shared_for_search) ---------------------------


class KeepPublicationPhoto(Command):
    """A face photo intake shared: its published image, derived once."""

    photo_id: uuid.UUID
    person_id: uuid.UUID
    station_id: str
    sha256: str
    taken_at: datetime
    image: str | None = None

    @classmethod
    def of(cls, event: PhotoSharedForSearchV1) -> KeepPublicationPhoto:
        return cls(
            photo_id=event.photo_id,
            person_id=event.person_id,
            station_id=event.station_id,
            sha256=event.sha256,
            taken_at=event.taken_at,
            image=event.image,
        )


async def keep_publication_photo(
    command: KeepPublicationPhoto, uow: UnitOfWork
) -> PublicationPhoto | None:
    """The photo's published image kept for the person's case, once per photo id
    (None: the person has no case). Runs after the photo's enrolment, in the same
    transaction: a photo enrolled from the event has one face, whose box is known."""
    await uow.flush()  # the enrolment's rows, read below
    handled = await uow.get(PublicationPhoto, command.photo_id)
    if handled is not None:
        return handled
    cases = await uow.find(SearchCase, person_id=command.person_id)
    if not cases:
        return None
    case = cases[0]
    kept = PublicationPhoto(
        photo_id=command.photo_id,
        person_id=case.person_id,
        case_id=case.id,
        station_id=case.station_id,
        source_sha256=command.sha256,
        taken_at=command.taken_at,
        status=PhotoStatus.UNUSABLE.value,
        faces_in_photo=0,
        prepared_at=uow.now,
    )
    uow.add(kept)
    if command.image is None:
        kept.reason = "intake withheld the image (too large to share): no published image"
        return kept
    try:
        image = base64.b64decode(command.image, validate=True)
    except (binascii.Error, ValueError):
        kept.reason = "the shared image is not base64"
        return kept
    shared = await uow.get(SharedPhoto, command.photo_id)
    record = (
        await uow.get(FaceRecord, shared.face_record_id)
        if shared is not None and shared.status == "enrolled" and shared.face_record_id
        else None
    )
    try:
        if record is not None:  # enrolled as the photo's only face: its box is known
            published, count, basis = await asyncio.to_thread(
                derive, image, faces=None, face=Rect.of(record)
            )
        else:
            faces = await asyncio.to_thread(_faces, image)
            records = await uow.find(FaceRecord, person_id=case.person_id)
            name = default_encoder().name
            vectors = [list(r.embedding) for r in records if r.encoder == name]
            published, count, basis = await asyncio.to_thread(
                derive, image, faces=faces, enrolled=vectors
            )
    except Unusable as unusable:
        kept.reason = str(unusable)[:500]
        return kept
    except Exception:  # a fault here must not undo the photo's enrolment
        log.exception("photo %s: no published image", command.photo_id)
        kept.reason = "the published image could not be made (see the service's log)"
        return kept
    kept.status = PhotoStatus.READY.value
    kept.faces_in_photo = count
    kept.face_basis = basis.value
    kept.content_type = CONTENT_TYPE
    kept.image = published.image
    kept.sha256 = published.sha256
    kept.width, kept.height = published.width, published.height
    return kept


def _faces(image: bytes) -> list[DetectedFace]:
    try:
        return default_encoder().encode(image)
    except PhotoProblem as problem:
        raise Unusable(f"the photo cannot be read ({problem.reason})") from None
