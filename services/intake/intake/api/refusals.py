"""Refusals of help (劝导记录): recorded with the advice given, no admission; linked
to the person when staff recognise them, and counted per person
(commands/refusals.py); a face photo of the person, for search to recognise
(commands/refusal_photos.py)."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Query, Response

from intake import queries, refusal_views
from intake.commands import refusal_photos, refusals
from intake.commands.refusal_photos import AddRefusalPhoto, RefusalPhotoUpload
from intake.commands.refusals import LinkRefusal, RecordRefusal, RefusalLink, RefusalRecord
from intake.record_views import photo_headers
from intake.refusal_views import (
    PersonRefusals,
    RefusalPhotoView,
    RefusalView,
    RefusalWithMatches,
    with_matches,
)
from intake.tables import Refusal
from rescue_chassis.access import STATION_WORK
from rescue_chassis.auth import PrincipalDep, require_roles
from rescue_chassis.commands import Run, UnitOfWork
from rescue_chassis.db import SessionDep
from rescue_chassis.limits import MIB, body_limit
from rescue_chassis.runtime import RuntimeDep

router = APIRouter(tags=["refusals"], dependencies=[require_roles(*STATION_WORK)])


@router.post("/refusals", status_code=201, response_model=RefusalWithMatches)
async def record_refusal(record: RefusalRecord, run: Run):
    """Record a refusal of help with the advice given; help_refused goes out. With
    `person_id` the refusal is that person's (404 if the network knows no such
    person); otherwise `possible_matches` lists who it may be, by name."""
    command = RecordRefusal(**dict(record))
    return await run(refusals.record_refusal, command, location="/refusals/{id}")


@router.get("/refusals", response_model=list[RefusalView])
async def list_refusals(
    principal: PrincipalDep,
    session: SessionDep,
    runtime: RuntimeDep,
    person_id: uuid.UUID | None = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
):
    """The caller's station's refusals (the center sees the network), newest first;
    `person_id`: that person's only."""
    return await queries.refusals(UnitOfWork(session, runtime, principal), limit, person_id)


@router.get("/refusals/{refusal_id}", response_model=RefusalWithMatches)
async def get_refusal(
    refusal_id: uuid.UUID, principal: PrincipalDep, session: SessionDep, runtime: RuntimeDep
):
    """The refusal, with who it may be while it is linked to no one: by name, and by
    face once search has compared its photos (`by`, `similarity`). Suggestions
    only: staff link with POST /refusals/{id}/person."""
    reading = UnitOfWork(session, runtime, principal)
    return await with_matches(reading, await reading.load(Refusal, refusal_id, what="refusal"))


@router.post("/refusals/{refusal_id}/person", response_model=PersonRefusals)
async def link_refusal(refusal_id: uuid.UUID, link: RefusalLink, run: Run):
    """The refusal's person is this one: a person record of the network (any
    station's), a person met in earlier refusals, or `earlier_refusal_id`'s person.
    refusal_linked goes out; answered with the person's refusals, counted. Always
    staff's choice, by name or by face alike: nothing is linked automatically (a
    wrong merge is worse than a missed one)."""
    command = LinkRefusal(refusal_id=refusal_id, **dict(link))
    return await run(refusals.link_refusal, command)


@router.get("/persons/{person_id}/refusals", response_model=PersonRefusals)
async def person_refusals(
    person_id: uuid.UUID, principal: PrincipalDep, session: SessionDep, runtime: RuntimeDep
):
    """How many times the person refused help in the network, and those refusals
    the caller sees (a person record's id, or a person known only from refusals)."""
    return await refusal_views.person_refusals(UnitOfWork(session, runtime, principal), person_id)


@router.post(
    "/refusals/{refusal_id}/photos",
    status_code=201,
    response_model=RefusalPhotoView,
    responses={413: {"description": "The image is larger than 2 MiB."}},
    # 2 MiB of image is 2.7 MiB of base64 (as a person's photos).
    openapi_extra=body_limit(3 * MIB),
)
async def add_refusal_photo(refusal_id: uuid.UUID, upload: RefusalPhotoUpload, run: Run):
    """Add a face photo of the person who refused. It is kept with its SHA-256 and
    shared with search (`refusal_photo_shared`), which compares the face with the
    network's; who it may be then shows in the refusal's `possible_matches`."""
    command = AddRefusalPhoto(refusal_id=refusal_id, upload=upload)
    return await run(refusal_photos.add_refusal_photo, command, location="{url}")


@router.get("/refusals/{refusal_id}/photos", response_model=list[RefusalPhotoView])
async def list_refusal_photos(
    refusal_id: uuid.UUID, principal: PrincipalDep, session: SessionDep, runtime: RuntimeDep
):
    """The refusal's photos (metadata, and whether search has compared each), earliest
    taken first."""
    reading = UnitOfWork(session, runtime, principal)
    refusal = await reading.load(Refusal, refusal_id, what="refusal")
    return await refusal_views.refusal_photos(reading, refusal)


@router.get(
    "/refusals/{refusal_id}/photos/{photo_id}",
    response_class=Response,
    responses={
        200: {
            "description": "The image, with its content type and SHA-256 digest.",
            "content": {"image/jpeg": {}, "image/png": {}},
        }
    },
)
async def get_refusal_photo(
    refusal_id: uuid.UUID,
    photo_id: uuid.UUID,
    principal: PrincipalDep,
    session: SessionDep,
    runtime: RuntimeDep,
):
    """The image itself. Face data is sensitive (PIPL): every read is logged, and
    nothing caches it."""
    reading = UnitOfWork(session, runtime, principal)
    refusal = await reading.load(Refusal, refusal_id, what="refusal")
    photo = await refusal_views.read_refusal_photo(reading, refusal, photo_id)
    return Response(photo.image, media_type=photo.content_type, headers=photo_headers(photo))
