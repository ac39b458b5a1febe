"""Faces: a case's photo enrolled and compared with every earlier record of every
station (the wandering trail, as suggestions for a specialist), uploaded here or
taken at intake (photo_shared_for_search); a family's photo of a missing person;
a one-off face search; the suggestions' review.

Face data is sensitive personal information (PIPL): images are never stored here,
only the 128 numbers of each face and the photo's SHA-256.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import hashlib
import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from pydantic import BaseModel, ConfigDict, Field, StrictInt
from sqlalchemy import select

from rescue_chassis.access import sees_network
from rescue_chassis.commands import Command, UnitOfWork
from rescue_chassis.moments import PastInstant
from rescue_chassis.problems import base64_field
from rescue_chassis.refusals import Conflict, Problem, Refused
from rescue_events.contracts.intake_care import PhotoSharedForSearchV1
from search import statements
from search.faces.encoder import (
    DetectedFace,
    FaceProblem,
    PhotoProblem,
    default_encoder,
    the_only_face,
)
from search.faces.store import TrailPerson as Trail
from search.ranking import FACE_CLOSE_DISTANCE, FACE_MATCH_DISTANCE
from search.tables.core import EarlierStaySuggestion, SearchCase
from search.tables.escalations import SharedPhoto
from search.tables.evidence import MissingPersonReport
from search.visibility import may_see_trails

MAX_IMAGE_BYTES = 8 * 1024 * 1024
MAX_IMAGE_BASE64 = 4 * -(-MAX_IMAGE_BYTES // 3)

#: Earlier records further than this are not worth showing at all.
TRAIL_DISTANCE = FACE_CLOSE_DISTANCE
#: The nearest faces that pick the persons; each person's whole trail is then read.
TRAIL_NEIGHBOURS = 20


class FacePhoto(Command):
    """A photo as JSON: the image is base64 text."""

    image: str = Field(
        max_length=MAX_IMAGE_BASE64,
        description=f"A JPEG, PNG or WebP image, base64 (standard alphabet); at most "
        f"{MAX_IMAGE_BYTES} bytes decoded.",
        examples=["/9j/4AAQSkZJRgABAQAAAQABAAD/2wBDAAgGBgcGBQgHBwcJCQgKDBQNDAsLDBkSEw8U"],
        json_schema_extra=base64_field("the photo"),
    )
    face: StrictInt | None = Field(
        default=None,
        ge=0,
        le=20,
        description="Which face to take when the photo shows several (0 = the largest).",
    )
    taken_at: PastInstant | None = Field(
        default=None,
        description="When the photo was taken (default: now).",
        examples=["2026-11-23T09:05:00+08:00"],
    )
    found_place: str | None = Field(
        default=None,
        max_length=300,
        description="Where the person was found, for the trail shown to other stations.",
        examples=["固始县汽车站"],
    )


class FaceSearch(Command):
    image: str = Field(
        max_length=MAX_IMAGE_BASE64,
        description=f"A JPEG, PNG or WebP image, base64; at most {MAX_IMAGE_BYTES} bytes decoded.",
        json_schema_extra=base64_field("the photo"),
    )
    limit: StrictInt = Field(default=10, ge=1, le=50, description="Persons per face.")


# ---- views --------------------------------------------------------------------------------


class Box(BaseModel):
    top: int
    right: int
    bottom: int
    left: int


class TrailRecord(BaseModel):
    """One earlier record of a person: where and when the network met them."""

    face_record_id: uuid.UUID
    station_id: str
    case_id: uuid.UUID | None
    when: datetime = Field(description="When the photo was taken (else enrolled).")
    found_place: str | None
    similarity: float


class TrailPerson(BaseModel):
    """A person of earlier records whose face matches: the stations they passed, in
    time order (the wandering trail)."""

    person_id: uuid.UUID
    similarity: float
    verdict: str = Field(description="match (very likely the same) or close (look again).")
    stations: list[str] = Field(description="The stations in the order the person passed.")
    records: list[TrailRecord] = Field(description="Oldest first.")


class ReportLead(BaseModel):
    """A family's photo of a missing person that looks like this face."""

    report_id: uuid.UUID
    station_id: str
    similarity: float
    verdict: str


class FaceView(BaseModel):
    box: Box
    matches: list[TrailPerson] = Field(description="Persons of the network, best first.")
    reports: list[ReportLead] = Field(description="Missing-person reports, best first.")


class EnrolledFaceView(BaseModel):
    face_record_id: uuid.UUID
    box: Box
    faces_in_photo: int
    trail: list[TrailPerson] = Field(description="Earlier persons with this face, best first.")
    reports: list[ReportLead] = Field(description="Missing-person reports with this face.")
    suggestions: list[uuid.UUID] = Field(description="New earlier-stay suggestions for review.")
    candidates_proposed: int = Field(description="New identity candidates (missing reports).")


class FaceSearchView(BaseModel):
    faces: list[FaceView]


class SuggestionView(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    case_id: uuid.UUID
    station_id: str
    earlier_person_id: uuid.UUID
    method: str
    similarity: float
    trail: list[dict]
    status: str
    suggested_at: datetime
    reviewed_by: str | None
    reviewed_at: datetime | None
    rejection_reason: str | None


# ---- the photo ----------------------------------------------------------------------------


def _image(encoded: str) -> bytes:
    if not encoded:  # said here: pydantic's "at least 4 characters" says nothing of a photo
        raise Refused("image", "the photo is empty")
    try:
        image = base64.b64decode(encoded, validate=True)
    except (binascii.Error, ValueError):
        raise Refused("image", "is not base64 (the photo's bytes, standard alphabet)") from None
    if len(image) > MAX_IMAGE_BYTES:
        raise Problem(413, "Photo too large", f"image: larger than {MAX_IMAGE_BYTES} bytes")
    return image


def photo_reason(problem: PhotoProblem) -> str:
    """What is wrong with the photo, in words a station worker can act on."""
    if problem.reason == "too_large":
        return f"the photo is too large: {problem.detail}"
    if problem.reason == "too_small":
        return f"the photo is too small to show a face: {problem.detail}"
    return f"the photo is {problem.detail}"  # the encoder's words: "empty", "not a JPEG, …"


async def _faces(image: bytes) -> list[DetectedFace]:
    """Every face in the photo, largest first (the model runs in a thread: it is
    CPU-bound)."""
    try:
        return await asyncio.to_thread(default_encoder().encode, image)
    except PhotoProblem as problem:
        raise Refused("image", photo_reason(problem)) from None


def _one_face(faces: list[DetectedFace], chosen: int | None) -> DetectedFace:
    """The face to enrol: the one chosen, or the photo's only face (the encoder's
    rule, ``the_only_face``), with the answer a station worker can act on."""
    if chosen is not None and faces:
        if chosen >= len(faces):
            shows = f"the photo shows {len(faces)} face(s)"
            raise Refused("face", f"{shows}; choose 0–{len(faces) - 1}")
        return faces[chosen]
    try:
        return the_only_face(faces)
    except FaceProblem as problem:
        if problem.reason == "no_face":
            raise Refused(
                "image",
                "no face was found: take the photo again, facing the camera, in good light",
            ) from None
        raise Refused(
            "image",
            f"{len(faces)} faces were found: choose one with `face` (0 = the largest) "
            "or send a photo of the person alone",
        ) from None


def _box(face: DetectedFace) -> Box:
    top, right, bottom, left = face.box
    return Box(top=top, right=right, bottom=bottom, left=left)


def _verdict(distance: float) -> str:
    return "match" if distance <= FACE_MATCH_DISTANCE else "close"


def _persons(trails: list[Trail], limit: int | None = None) -> list[TrailPerson]:
    """The persons of the network (admission records) among the trails."""
    people = [
        TrailPerson(
            person_id=t.person_id,
            similarity=round(t.similarity, 3),
            verdict=_verdict(t.distance),
            stations=list(t.stations),
            records=[
                TrailRecord(
                    face_record_id=stay.record_id,
                    station_id=stay.station_id,
                    case_id=stay.case_id,
                    when=stay.when,
                    found_place=stay.found_place,
                    similarity=round(stay.similarity, 3),
                )
                for stay in t.stays
            ],
        )
        for t in trails
        if all(stay.source == "admission" for stay in t.stays)
    ]
    return people[:limit] if limit else people


def _reports(trails: list[Trail], limit: int | None = None) -> list[ReportLead]:
    """Families' photos among the trails (a report's records carry its id as person)."""
    leads = [
        ReportLead(
            report_id=stay.report_id,
            station_id=stay.station_id,
            similarity=round(t.similarity, 3),
            verdict=_verdict(t.distance),
        )
        for t in trails
        for stay in t.stays[:1]
        if stay.source == "report" and stay.report_id is not None
    ]
    return leads[:limit] if limit else leads


async def _enrol(uow: UnitOfWork, photo: FacePhoto, **owner) -> tuple[DetectedFace, int, uuid.UUID]:
    """The one face of the photo enrolled for its owner (a case's person or a
    report): the face, how many the photo shows, the face record's id."""
    image = _image(photo.image)
    faces = await _faces(image)
    face = _one_face(faces, photo.face)
    record_id = await statements.enrol(
        uow,
        face,
        photographed_at=photo.taken_at or uow.now,
        found_place=photo.found_place,
        encoder_name=default_encoder().name,
        photo_sha256=hashlib.sha256(image).hexdigest(),
        **owner,
    )
    return face, len(faces), record_id


async def _trails(uow: UnitOfWork, face: DetectedFace, exclude_person_id=None) -> list[Trail]:
    return await statements.trails(
        uow,
        face,
        limit=TRAIL_NEIGHBOURS,
        max_distance=TRAIL_DISTANCE,
        exclude_person_id=exclude_person_id,
    )


async def _shown(uow: UnitOfWork, trails: list[Trail]) -> list[Trail]:
    """The trails as the caller may see them (visibility.trail_rule, as suggestions)."""
    shown = await statements.trail_rule(uow, (s.case_id for t in trails for s in t.stays))
    return [t for t in trails if all(shown(s.station_id, s.case_id) for s in t.stays)]


def _leads(uow: UnitOfWork, trails: list[Trail], limit: int | None = None) -> list[ReportLead]:
    """Families' reports among the trails, for the reviewers (access.SENSITIVE)."""
    return _reports(trails, limit) if may_see_trails(uow.actor) else []


# ---- a case's photo, a report's photo ------------------------------------------------------


class EnrolCasePhoto(FacePhoto):
    case_id: uuid.UUID


async def enrol_case_photo(command: EnrolCasePhoto, uow: UnitOfWork) -> EnrolledFaceView:
    """The person's face enrolled; each earlier person with that face becomes a
    suggestion for review; the case is ranked again against the open reports."""
    case = await uow.load(SearchCase, command.case_id, what="search case")
    enrolled = await _enrol_on_case(uow, case, command)
    # The trail names other stations' persons: for the reviewers (access.SENSITIVE);
    # the staff who took the photo see that suggestions were made.
    return EnrolledFaceView(
        face_record_id=enrolled.record_id,
        box=_box(enrolled.face),
        faces_in_photo=enrolled.faces_in_photo,
        trail=_persons(await _shown(uow, enrolled.trails)),
        reports=_leads(uow, enrolled.trails),
        suggestions=enrolled.suggested,
        candidates_proposed=enrolled.proposed,
    )


@dataclass(frozen=True)
class _Enrolled:
    face: DetectedFace
    faces_in_photo: int
    record_id: uuid.UUID
    trails: list[Trail]
    suggested: list[uuid.UUID]
    proposed: int


async def _enrol_on_case(uow: UnitOfWork, case: SearchCase, photo: FacePhoto) -> _Enrolled:
    """The face enrolled for the case's person, earlier persons with that face
    suggested for review, the case ranked again against the open reports."""
    face, faces_in_photo, record_id = await _enrol(
        uow,
        photo,
        person_id=case.person_id,
        case_id=case.id,
        station_id=case.station_id,
        source="admission",
    )
    trails = await _trails(uow, face, exclude_person_id=case.person_id)
    suggested = []
    for person in _persons(trails):
        suggestion_id = await statements.suggest_earlier_stay(
            uow,
            case_id=case.id,
            station_id=case.station_id,
            earlier_person_id=person.person_id,
            method="face_comparison",
            similarity=person.similarity,
            trail=[r.model_dump(mode="json") for r in person.records],
        )
        if suggestion_id is not None:
            suggested.append(suggestion_id)
    await uow.flush()
    proposed = await statements.match_case(uow, case)
    return _Enrolled(face, faces_in_photo, record_id, trails, suggested, proposed)


# ---- a face photo taken at intake (photo_shared_for_search) -----------------------------


class SharedPhotoStatus(StrEnum):
    ENROLLED = "enrolled"
    NOT_ENROLLED = "not_enrolled"  # no case, or no single face found: said in `reason`
    UPLOAD_NEEDED = "upload_needed"  # intake withheld the image: staff upload it by hand


class EnrolSharedPhoto(Command):
    """A face photo intake took, shared for search by its photo id."""

    photo_id: uuid.UUID
    person_id: uuid.UUID
    station_id: str
    sha256: str
    taken_at: datetime
    image: str | None = None
    withheld: str | None = None

    @classmethod
    def of(cls, event: PhotoSharedForSearchV1) -> EnrolSharedPhoto:
        return cls(
            photo_id=event.photo_id,
            person_id=event.person_id,
            station_id=event.station_id,
            sha256=event.sha256,
            taken_at=event.taken_at,
            image=event.image,
            withheld=event.withheld.value if event.withheld else None,
        )


class SharedPhotoView(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    photo_id: uuid.UUID = Field(
        description="Intake's photo id (GET intake's /persons/{id}/photos)."
    )
    person_id: uuid.UUID
    case_id: uuid.UUID | None
    station_id: str
    status: str = Field(description="enrolled, not_enrolled or upload_needed.")
    reason: str | None = Field(description="Why it was not enrolled, and what to do.")
    face_record_id: uuid.UUID | None
    received_at: datetime


async def shared_photos(
    uow: UnitOfWork, *, status: str | None, person_id: uuid.UUID | None, limit: int
) -> list[SharedPhotoView]:
    """Intake's face photos as search took them, newest first, in the caller's scope."""
    query = select(SharedPhoto).order_by(SharedPhoto.received_at.desc()).limit(limit)
    if not sees_network(uow.actor, uow.network):
        query = query.where(SharedPhoto.station_id == uow.actor.station_id)
    if status:
        query = query.where(SharedPhoto.status == status)
    if person_id:
        query = query.where(SharedPhoto.person_id == person_id)
    return [SharedPhotoView.model_validate(p) for p in (await uow.session.scalars(query)).all()]


async def enrol_shared_photo(command: EnrolSharedPhoto, uow: UnitOfWork) -> SharedPhoto:
    """Intake's face photo enrolled on the person's case, once per photo id: a
    photo handled before is left as it was. What could not be enrolled is kept
    with the reason (the photo itself is never stored here)."""
    handled = await uow.get(SharedPhoto, command.photo_id)
    if handled is not None:
        return handled
    cases = await uow.find(SearchCase, person_id=command.person_id)
    case = cases[0] if cases else None
    shared = SharedPhoto(
        photo_id=command.photo_id,
        person_id=command.person_id,
        case_id=case.id if case else None,
        station_id=case.station_id if case else command.station_id,
        sha256=command.sha256,
        status=SharedPhotoStatus.NOT_ENROLLED.value,
        received_at=uow.now,
    )
    if command.image is None:
        shared.status = SharedPhotoStatus.UPLOAD_NEEDED.value
        where = f"/cases/{case.id}/face-photos" if case else "the person's case, once opened"
        shared.reason = (
            f"intake withheld the image ({command.withheld or 'no image'}): upload the "
            f"photo by hand to {where}"
        )
    elif case is None:
        shared.reason = "the person has no search case (identified at admission)"
    else:
        photo = FacePhoto(image=command.image, taken_at=command.taken_at)
        try:
            enrolled = await _enrol_on_case(uow, case, photo)
        except Refused as refused:  # no face, several faces, not an image: said, not retried
            shared.reason = refused.detail[:500]
        else:
            shared.status = SharedPhotoStatus.ENROLLED.value
            shared.face_record_id = enrolled.record_id
    uow.add(shared)
    return shared


class EnrolReportPhoto(FacePhoto):
    report_id: uuid.UUID


async def enrol_report_photo(command: EnrolReportPhoto, uow: UnitOfWork) -> EnrolledFaceView:
    """The face on a family's photo enrolled; the report is ranked again against
    every open case, now with the face."""
    report = await uow.load(MissingPersonReport, command.report_id, what="missing-person report")
    face, faces_in_photo, record_id = await _enrol(
        uow,
        command,
        person_id=report.id,  # a report has no person: its own id keeps its records together
        report_id=report.id,
        station_id=report.station_id,
        source="report",
    )
    trails = await _trails(uow, face, exclude_person_id=report.id)
    await uow.flush()
    proposed = await statements.match_report(uow, report)
    return EnrolledFaceView(
        face_record_id=record_id,
        box=_box(face),
        faces_in_photo=faces_in_photo,
        trail=_persons(await _shown(uow, trails)),
        reports=_leads(uow, trails),
        suggestions=[],
        candidates_proposed=proposed,
    )


async def search_faces(command: FaceSearch, uow: UnitOfWork) -> FaceSearchView:
    """Every face of the photo with the persons who look like it; nothing is recorded."""
    faces = await _faces(_image(command.image))
    if not faces:
        raise Refused("image", "no face was found: a photo facing the camera, in good light")
    found = []
    for face in faces:
        trails = await _trails(uow, face)
        found.append(
            FaceView(
                box=_box(face),
                matches=_persons(await _shown(uow, trails), command.limit),
                reports=_reports(trails, command.limit),
            )
        )
    return FaceSearchView(faces=found)


# ---- the suggestions' review -------------------------------------------------------------


async def suggestion_views(
    uow: UnitOfWork, suggestions: Iterable[EarlierStaySuggestion]
) -> list[SuggestionView]:
    """Suggestions with their trails as the caller may see them: the same rule as the
    enrolment's answer (visibility.trail_rule), so the staff see no other station's
    case, place or times here either."""
    suggestions = list(suggestions)
    shown = await statements.trail_rule(
        uow, (r.get("case_id") for s in suggestions for r in s.trail)
    )
    return [
        SuggestionView.model_validate(s).model_copy(
            update={"trail": [r for r in s.trail if shown(r["station_id"], r.get("case_id"))]}
        )
        for s in suggestions
    ]


class SuggestionRejection(Command):
    reason: str = Field(
        min_length=1,
        max_length=500,
        description="Why the earlier person is someone else.",
        examples=["面部相似但身高、口音不符,核对后不是同一人"],
    )


class RejectSuggestion(SuggestionRejection):
    suggestion_id: uuid.UUID


async def reject_suggestion(command: RejectSuggestion, uow: UnitOfWork) -> SuggestionView:
    """Not the same person: kept as rejected, and not suggested again for this case."""
    suggestion = await uow.load(
        EarlierStaySuggestion, command.suggestion_id, what="suggestion", lock=True
    )
    if suggestion.status != "pending":
        raise Conflict("Already reviewed", f"This suggestion is {suggestion.status}.")
    suggestion.status = "rejected"
    suggestion.reviewed_by = uow.actor.subject
    suggestion.reviewed_at = uow.now
    suggestion.rejection_reason = command.reason
    (view,) = await suggestion_views(uow, [suggestion])
    return view
