"""Faces: a case's photo enrolled and compared with every earlier record of every
station (the wandering trail, as suggestions for a specialist); a family's photo
of a missing person; a one-off face search; the suggestions' review.

Face data is sensitive personal information (PIPL): images are never stored here,
only the 128 numbers of each face and the photo's SHA-256.
"""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Query

from rescue_chassis.access import REVIEWERS, SEARCH_WORK
from rescue_chassis.auth import PrincipalDep, require_roles
from rescue_chassis.commands import Run, UnitOfWork
from rescue_chassis.db import SessionDep
from rescue_chassis.limits import KIB, body_limit
from rescue_chassis.runtime import RuntimeDep
from search import queries
from search.commands import faces
from search.commands.faces import (
    MAX_IMAGE_BASE64,
    EnrolledFaceView,
    FacePhoto,
    FaceSearch,
    FaceSearchView,
    SuggestionRejection,
    SuggestionView,
)

router = APIRouter(tags=["faces"], dependencies=[require_roles(*SEARCH_WORK)])

# The request body of a route that takes a photo: the base64 image and a little more
# (the chassis refuses larger bodies before reading them; rescue_chassis.limits).
PHOTO_BODY = body_limit(MAX_IMAGE_BASE64 + 64 * KIB)


@router.post(
    "/cases/{case_id}/face-photos",
    status_code=201,
    response_model=EnrolledFaceView,
    openapi_extra=PHOTO_BODY,
)
async def enrol_case_photo(case_id: uuid.UUID, photo: FacePhoto, run: Run):
    """Enrol the admitted person's face and compare it with every earlier record of
    every station. Each earlier person whose face matches becomes a suggestion for a
    search specialist (accept it with `POST /cases/{id}/earlier-stays`); the case is
    ranked again against the open missing-person reports. A photo with no face, or
    several faces and no `face` chosen, is refused with 422."""
    command = faces.EnrolCasePhoto(case_id=case_id, **photo.model_dump())
    return await run(faces.enrol_case_photo, command)


@router.post(
    "/missing-person-reports/{report_id}/face-photos",
    status_code=201,
    response_model=EnrolledFaceView,
    openapi_extra=PHOTO_BODY,
)
async def enrol_report_photo(report_id: uuid.UUID, photo: FacePhoto, run: Run):
    """Enrol the face on a family's photo of the missing person; the report is ranked
    again against every open case, now with the face. The trail shows persons of the
    network's records who look like the missing person."""
    command = faces.EnrolReportPhoto(report_id=report_id, **photo.model_dump())
    return await run(faces.enrol_report_photo, command)


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
    return await faces.search_faces(request, UnitOfWork(session, runtime, principal))


# ---- the suggestions' review -------------------------------------------------------------


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
    reading = UnitOfWork(session, runtime, principal)
    return await queries.suggestions(reading, case_id, status, limit)


@router.post(
    "/earlier-stay-suggestions/{suggestion_id}/rejection",
    response_model=SuggestionView,
    dependencies=[require_roles(*REVIEWERS)],
)
async def reject_suggestion(suggestion_id: uuid.UUID, rejection: SuggestionRejection, run: Run):
    """Not the same person: the suggestion stays on record as rejected and is not made
    again for this case."""
    return await run(
        faces.reject_suggestion,
        faces.RejectSuggestion(suggestion_id=suggestion_id, reason=rejection.reason),
    )
