"""The person's record on admission, beyond the basics: photos, the belongings
inventory (随身物品), the basic health check (入站基础健康检视)."""

from __future__ import annotations

import uuid

from fastapi import APIRouter, Response

from intake.commands import record
from intake.commands.record import BelongingsInventory, HealthCheckRequest, PhotoUpload
from intake.record_views import (
    BelongingView,
    HealthChecks,
    HealthCheckView,
    PhotoView,
    belongings_of,
    health_checks_of,
    photo_headers,
    photos_of,
    read_photo,
)
from intake.tables import Person
from rescue_chassis.access import STATION_WORK
from rescue_chassis.auth import PrincipalDep, require_roles
from rescue_chassis.commands import Run, load
from rescue_chassis.db import SessionDep
from rescue_chassis.limits import MIB, body_limit
from rescue_chassis.runtime import RuntimeDep

router = APIRouter(prefix="/persons", tags=["record"], dependencies=[require_roles(*STATION_WORK)])


# ---- photos ------------------------------------------------------------------


@router.post(
    "/{person_id}/photos",
    status_code=201,
    response_model=PhotoView,
    responses={413: {"description": "The image is larger than 2 MiB."}},
    # 2 MiB of image is 2.7 MiB of base64: the body may be that large (the chassis
    # refuses anything larger before reading it; a little over 2 MiB, the route does).
    openapi_extra=body_limit(3 * MIB),
)
async def add_photo(person_id: uuid.UUID, upload: PhotoUpload, run: Run):
    """Add a photo (face, full body, belongings) to the person's record. It is kept
    with its SHA-256; `photo_added` carries the metadata only, never the image."""
    command = record.AddPhoto(person_id=person_id, upload=upload)
    return await run(record.add_photo, command, location="{url}")


@router.get("/{person_id}/photos", response_model=list[PhotoView])
async def list_photos(
    person_id: uuid.UUID, principal: PrincipalDep, session: SessionDep, runtime: RuntimeDep
):
    """The person's photos (metadata), earliest taken first."""
    person = await load(session, runtime, principal, Person, person_id, what="person")
    return await photos_of(session, person)


@router.get(
    "/{person_id}/photos/{photo_id}",
    response_class=Response,
    responses={
        200: {
            "description": "The image, with its content type and SHA-256 digest.",
            "content": {"image/jpeg": {}, "image/png": {}},
        }
    },
)
async def get_photo(
    person_id: uuid.UUID,
    photo_id: uuid.UUID,
    principal: PrincipalDep,
    session: SessionDep,
    runtime: RuntimeDep,
):
    """The image itself. Face data is sensitive (PIPL): every read is logged, and
    nothing caches it."""
    person = await load(session, runtime, principal, Person, person_id, what="person")
    photo = await read_photo(session, person, photo_id, principal)
    return Response(photo.image, media_type=photo.content_type, headers=photo_headers(photo))


# ---- belongings (随身物品) -------------------------------------------------------


@router.post("/{person_id}/belongings", status_code=201, response_model=list[BelongingView])
async def record_belongings(person_id: uuid.UUID, inventory: BelongingsInventory, run: Run):
    """Record belongings taken in for the current stay; they must be returned (or
    it said why not) when the stay ends."""
    command = record.RecordBelongings(person_id=person_id, inventory=inventory)
    return await run(record.record_belongings, command)


@router.get("/{person_id}/belongings", response_model=list[BelongingView])
async def list_belongings(
    person_id: uuid.UUID, principal: PrincipalDep, session: SessionDep, runtime: RuntimeDep
):
    """The belongings of every stay, in the order they were received."""
    person = await load(session, runtime, principal, Person, person_id, what="person")
    return await belongings_of(session, person)


# ---- the basic health check (入站基础健康检视) -----------------------------------


@router.post("/{person_id}/health-checks", status_code=201, response_model=HealthCheckView)
async def record_health_check(person_id: uuid.UUID, check: HealthCheckRequest, run: Run):
    """Record a basic health check of a person in the station."""
    command = record.RecordHealthCheck(person_id=person_id, check=check)
    return await run(record.record_health_check, command)


@router.get("/{person_id}/health-checks", response_model=HealthChecks)
async def list_health_checks(
    person_id: uuid.UUID, principal: PrincipalDep, session: SessionDep, runtime: RuntimeDep
):
    """The person's health checks, the latest first (every stay)."""
    person = await load(session, runtime, principal, Person, person_id, what="person")
    return await health_checks_of(session, person)
