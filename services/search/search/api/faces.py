"""Faces: a case's photo enrolled and compared with every earlier record of every
station (the wandering trail, as suggestions for a specialist); a family's photo
of a missing person; a one-off face search; the suggestions' review.

Face data is sensitive personal information (PIPL): images are never stored here,
only the 128 numbers of each face and the photo's SHA-256.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import hashlib
import uuid
from datetime import UTC, datetime
from typing import Annotated

from fastapi import APIRouter, Query
from pydantic import BaseModel, ConfigDict, Field, StrictInt
from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert

from rescue_chassis.access import REVIEWERS, SEARCH_WORK, ensure_visible
from rescue_chassis.auth import PrincipalDep, require_roles
from rescue_chassis.db import SessionDep
from rescue_chassis.limits import KIB, body_limit
from rescue_chassis.moments import PastInstant
from rescue_chassis.problems import Problem, base64_field, invalid
from rescue_chassis.runtime import RuntimeDep
from search.faces.encoder import (
    DetectedFace,
    FaceProblem,
    PhotoProblem,
    default_encoder,
    the_only_face,
)
from search.faces.store import TrailPerson as Trail
from search.faces.store import enrol_face, find_trail
from search.matching import match_case, match_report
from search.ranking import FACE_CLOSE_DISTANCE, FACE_MATCH_DISTANCE
from search.tables.core import EarlierStaySuggestion
from search.tables.evidence import MissingPersonReport
from search.visibility import (
    case_stations,
    may_see_case,
    may_see_trails,
    trail_rule,
    visible_case,
)

router = APIRouter(tags=["faces"], dependencies=[require_roles(*SEARCH_WORK)])

MAX_IMAGE_BYTES = 8 * 1024 * 1024
MAX_IMAGE_BASE64 = 4 * -(-MAX_IMAGE_BYTES // 3)
# The request body of a route that takes a photo: the base64 image and a little more
# (the chassis refuses larger bodies before reading them; rescue_chassis.limits).
PHOTO_BODY = body_limit(MAX_IMAGE_BASE64 + 64 * KIB)

#: Earlier records further than this are not worth showing at all.
TRAIL_DISTANCE = FACE_CLOSE_DISTANCE
#: The nearest faces that pick the persons; each person's whole trail is then read.
TRAIL_NEIGHBOURS = 20


class FacePhoto(BaseModel):
    """A photo as JSON: the image is base64 text."""

    model_config = ConfigDict(extra="forbid")

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


class FaceSearch(BaseModel):
    model_config = ConfigDict(extra="forbid")

    image: str = Field(
        max_length=MAX_IMAGE_BASE64,
        description=f"A JPEG, PNG or WebP image, base64; at most {MAX_IMAGE_BYTES} bytes decoded.",
        json_schema_extra=base64_field("the photo"),
    )
    limit: StrictInt = Field(default=10, ge=1, le=50, description="Persons per face.")


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


# ---- the photo ----------------------------------------------------------------------------


def _image(encoded: str) -> bytes:
    if not encoded:  # said here: pydantic's "at least 4 characters" says nothing of a photo
        raise invalid("image", "the photo is empty")
    try:
        image = base64.b64decode(encoded, validate=True)
    except (binascii.Error, ValueError):
        raise invalid("image", "is not base64 (the photo's bytes, standard alphabet)") from None
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
    """Every face in the photo, largest first (the model runs in a thread: it takes
    a fraction of a second of CPU)."""
    try:
        return await asyncio.to_thread(default_encoder().encode, image)
    except PhotoProblem as problem:
        raise invalid("image", photo_reason(problem)) from None


def _one_face(faces: list[DetectedFace], chosen: int | None) -> DetectedFace:
    """The face to enrol: the one chosen, or the photo's only face (the encoder's
    rule, ``the_only_face``), with the answer a station worker can act on."""
    if chosen is not None and faces:
        if chosen >= len(faces):
            shows = f"the photo shows {len(faces)} face(s)"
            raise invalid("face", f"{shows}; choose 0–{len(faces) - 1}")
        return faces[chosen]
    try:
        return the_only_face(faces)
    except FaceProblem as problem:
        if problem.reason == "no_face":
            raise invalid(
                "image",
                "no face was found: take the photo again, facing the camera, in good light",
            ) from None
        raise invalid(
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


async def _enrol(session, photo: FacePhoto, **owner) -> tuple[DetectedFace, int, uuid.UUID]:
    """The one face of the photo enrolled for its owner (a case's person or a
    report): the face, how many the photo shows, the face record's id."""
    image = _image(photo.image)
    faces = await _faces(image)
    face = _one_face(faces, photo.face)
    record = await enrol_face(
        session,
        face=face,
        photographed_at=photo.taken_at or datetime.now(UTC),
        found_place=photo.found_place,
        encoder_name=default_encoder().name,
        photo_sha256=hashlib.sha256(image).hexdigest(),
        **owner,
    )
    return face, len(faces), record.id


async def _trails(session, face: DetectedFace, exclude_person_id=None) -> list[Trail]:
    return await find_trail(
        session,
        face.vector,
        limit=TRAIL_NEIGHBOURS,
        exclude_person_id=exclude_person_id,
        max_distance=TRAIL_DISTANCE,
    )


async def _shown(session, principal, runtime, trails: list[Trail]) -> list[Trail]:
    """The trails as the caller may see them (visibility.trail_rule, as suggestions)."""
    shown = await trail_rule(
        session, principal, runtime.network, (s.case_id for t in trails for s in t.stays)
    )
    return [t for t in trails if all(shown(s.station_id, s.case_id) for s in t.stays)]


# ---- a case's photo -------------------------------------------------------------------------


@router.post(
    "/cases/{case_id}/face-photos",
    status_code=201,
    response_model=EnrolledFaceView,
    openapi_extra=PHOTO_BODY,
)
async def enrol_case_photo(
    case_id: uuid.UUID,
    photo: FacePhoto,
    principal: PrincipalDep,
    session: SessionDep,
    runtime: RuntimeDep,
):
    """Enrol the admitted person's face and compare it with every earlier record of
    every station. Each earlier person whose face matches becomes a suggestion for a
    search specialist (accept it with `POST /cases/{id}/earlier-stays`); the case is
    ranked again against the open missing-person reports. A photo with no face, or
    several faces and no `face` chosen, is refused with 422."""
    case = await visible_case(session, principal, runtime.network, case_id)
    face, faces_in_photo, record_id = await _enrol(
        session,
        photo,
        person_id=case.person_id,
        case_id=case.id,
        station_id=case.station_id,
        source="admission",
    )
    now = datetime.now(UTC)
    trails = await _trails(session, face, exclude_person_id=case.person_id)
    trail = _persons(trails)
    suggested = []
    for person in trail:
        suggestion_id = await session.scalar(
            insert(EarlierStaySuggestion)
            .values(
                id=uuid.uuid4(),
                case_id=case.id,
                station_id=case.station_id,
                earlier_person_id=person.person_id,
                method="face_comparison",
                similarity=person.similarity,
                trail=[r.model_dump(mode="json") for r in person.records],
                status="pending",
                suggested_at=now,
            )
            .on_conflict_do_nothing(index_elements=["case_id", "earlier_person_id"])
            .returning(EarlierStaySuggestion.id)
        )
        if suggestion_id is not None:
            suggested.append(suggestion_id)
    await session.flush()
    proposed = await match_case(session, runtime, case)
    # The trail names other stations' persons: for the reviewers (access.SENSITIVE);
    # the staff who took the photo see that suggestions were made.
    shown = await _shown(session, principal, runtime, trails)
    view = EnrolledFaceView(
        face_record_id=record_id,
        box=_box(face),
        faces_in_photo=faces_in_photo,
        trail=_persons(shown),
        reports=_reports(trails) if may_see_trails(principal) else [],
        suggestions=suggested,
        candidates_proposed=proposed,
    )
    await session.commit()
    return view


@router.post(
    "/missing-person-reports/{report_id}/face-photos",
    status_code=201,
    response_model=EnrolledFaceView,
    openapi_extra=PHOTO_BODY,
)
async def enrol_report_photo(
    report_id: uuid.UUID,
    photo: FacePhoto,
    principal: PrincipalDep,
    session: SessionDep,
    runtime: RuntimeDep,
):
    """Enrol the face on a family's photo of the missing person; the report is ranked
    again against every open case, now with the face. The trail shows persons of the
    network's records who look like the missing person."""
    report = await session.get(MissingPersonReport, report_id)
    if report is None:
        raise Problem(404, "Not found", "No such missing-person report.")
    ensure_visible(principal, runtime.network, "missing-person report", report.station_id)
    face, faces_in_photo, record_id = await _enrol(
        session,
        photo,
        person_id=report.id,  # a report has no person: its own id keeps its records together
        report_id=report.id,
        station_id=report.station_id,
        source="report",
    )
    trails = await _trails(session, face, exclude_person_id=report.id)
    await session.flush()
    proposed = await match_report(session, runtime, report)
    view = EnrolledFaceView(
        face_record_id=record_id,
        box=_box(face),
        faces_in_photo=faces_in_photo,
        trail=_persons(await _shown(session, principal, runtime, trails)),
        reports=_reports(trails) if may_see_trails(principal) else [],
        suggestions=[],
        candidates_proposed=proposed,
    )
    await session.commit()
    return view


@router.post(
    "/face-searches",
    response_model=FaceSearchView,
    dependencies=[require_roles(*REVIEWERS)],
    openapi_extra=PHOTO_BODY,
)
async def search_faces(
    request: FaceSearch, principal: PrincipalDep, session: SessionDep, runtime: RuntimeDep
):
    """Who in the network's records looks like the faces on this photo (a police
    photo, a family's photo): every face, each with its persons ranked by
    similarity. Nothing is enrolled or recorded. For search specialists, station
    leads and the center."""
    image = _image(request.image)
    faces = await _faces(image)
    if not faces:
        raise invalid("image", "no face was found: a photo facing the camera, in good light")
    found = []
    for face in faces:
        trails = await _trails(session, face)
        found.append(
            FaceView(
                box=_box(face),
                matches=_persons(await _shown(session, principal, runtime, trails), request.limit),
                reports=_reports(trails, request.limit),
            )
        )
    return FaceSearchView(faces=found)


# ---- the suggestions' review -------------------------------------------------------------


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


class SuggestionRejection(BaseModel):
    model_config = ConfigDict(extra="forbid")

    reason: str = Field(
        min_length=1,
        max_length=500,
        description="Why the earlier person is someone else.",
        examples=["面部相似但身高、口音不符,核对后不是同一人"],
    )


@router.get("/earlier-stay-suggestions", response_model=list[SuggestionView])
async def list_suggestions(
    principal: PrincipalDep,
    session: SessionDep,
    runtime: RuntimeDep,
    case_id: uuid.UUID | None = None,
    status: Annotated[str, Query(pattern="^(pending|accepted|rejected)$")] = "pending",
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
):
    """Face matches with earlier records, waiting for a specialist, best first: for
    the caller's station's cases (the center sees all)."""
    query = (
        select(EarlierStaySuggestion)
        .where(EarlierStaySuggestion.status == status)
        .order_by(EarlierStaySuggestion.similarity.desc(), EarlierStaySuggestion.suggested_at)
        .limit(limit)
    )
    if (stations := case_stations(principal, runtime.network)) is not None:
        query = query.where(EarlierStaySuggestion.station_id.in_(stations))  # the case's
    if case_id:
        query = query.where(EarlierStaySuggestion.case_id == case_id)
    found = (await session.scalars(query)).all()
    return await _suggestion_views(session, principal, runtime, found)


async def _suggestion_views(session, principal, runtime, suggestions) -> list[SuggestionView]:
    """Suggestions with their trails as the caller may see them: the same rule as the
    enrolment's answer (visibility.trail_rule), so the staff see no other station's
    case, place or times here either."""
    shown = await trail_rule(
        session,
        principal,
        runtime.network,
        (r.get("case_id") for s in suggestions for r in s.trail),
    )
    return [
        SuggestionView.model_validate(s).model_copy(
            update={"trail": [r for r in s.trail if shown(r["station_id"], r.get("case_id"))]}
        )
        for s in suggestions
    ]


@router.post(
    "/earlier-stay-suggestions/{suggestion_id}/rejection",
    response_model=SuggestionView,
    dependencies=[require_roles(*REVIEWERS)],
)
async def reject_suggestion(
    suggestion_id: uuid.UUID,
    rejection: SuggestionRejection,
    principal: PrincipalDep,
    session: SessionDep,
    runtime: RuntimeDep,
):
    """Not the same person: the suggestion stays on record as rejected and is not made
    again for this case."""
    suggestion = await session.get(EarlierStaySuggestion, suggestion_id, with_for_update=True)
    if suggestion is None or not may_see_case(principal, runtime.network, suggestion.station_id):
        raise Problem(404, "Not found", "No such suggestion.")
    if suggestion.status != "pending":
        raise Problem(409, "Already reviewed", f"This suggestion is {suggestion.status}.")
    suggestion.status = "rejected"
    suggestion.reviewed_by = principal.subject
    suggestion.reviewed_at = datetime.now(UTC)
    suggestion.rejection_reason = rejection.reason
    (view,) = await _suggestion_views(session, principal, runtime, [suggestion])
    await session.commit()
    return view
