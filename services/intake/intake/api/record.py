"""The person's record on admission, beyond the basics: photos, the belongings
inventory (随身物品), the basic health check (入站基础健康检视)."""

from __future__ import annotations

import base64
import hashlib
import logging
import uuid
from datetime import UTC, datetime

from fastapi import APIRouter, Response
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field, StrictFloat, StrictInt
from sqlalchemy import select
from sqlalchemy.orm import defer

from intake.api.persons import load_person
from intake.care_rules import (
    DIASTOLIC_MMHG,
    MAX_PHOTO_BYTES,
    PULSE_PER_MINUTE,
    SYSTOLIC_MMHG,
    TEMPERATURE_C,
    CareConflict,
    CareRefused,
    InfectiousScreening,
    PhotoTooLarge,
    check_time,
    check_vitals,
    decode_photo,
)
from intake.tables import Person, Stay, tables
from intake.tables.record import Belonging, HealthCheck, PersonPhoto
from rescue_chassis.access import STATION_WORK
from rescue_chassis.auth import PrincipalDep, require_roles
from rescue_chassis.db import SessionDep
from rescue_chassis.idempotency import IdempotencyKey, IdempotentRequest
from rescue_chassis.limits import MIB, body_limit
from rescue_chassis.moments import PastInstant
from rescue_chassis.problems import Problem, base64_field, invalid
from rescue_chassis.runtime import RuntimeDep
from rescue_events.contracts.intake_care import (
    BelongingsRecordedV1,
    HealthCheckRecordedV1,
    PhotoAddedV1,
    PhotoKind,
)

router = APIRouter(prefix="/persons", tags=["record"], dependencies=[require_roles(*STATION_WORK)])
log = logging.getLogger(__name__)


async def open_stay(session, person: Person, *, for_update: bool = False) -> Stay:
    """The person's current stay, which must not have ended (409 otherwise)."""
    stay = await session.get(Stay, person.current_stay_id, with_for_update=for_update)
    if stay is None or stay.discharged_at is not None:
        raise Problem(409, "Not in a station", "The person's stay has ended.")
    return stay


def refused(error: CareRefused) -> Problem:
    return invalid(error.field, error.reason)


def conflict(error: CareConflict) -> Problem:
    return Problem(409, error.title, error.detail)


# ---- photos ------------------------------------------------------------------


class PhotoUpload(BaseModel):
    """A photo for the record, as JSON: the image is base64 text."""

    model_config = ConfigDict(extra="forbid")

    kind: PhotoKind = Field(description="face, full_body or belongings.")
    image: str = Field(
        description=f"The JPEG or PNG image, base64 (standard alphabet, with padding); at "
        f"most {MAX_PHOTO_BYTES} bytes decoded. Larger images are refused with 413.",
        examples=["/9j/4AAQSkZJRgABAQAAAQABAAD/2wBDAAgGBgcGBQgHBwcJCQgKDBQNDAsLDBkSEw8U"],
        json_schema_extra=base64_field("the photo"),
    )
    taken_at: PastInstant = Field(
        description="When the photo was taken, with its offset.",
        examples=["2026-11-23T09:05:00+08:00"],
    )


class PhotoView(BaseModel):
    """A photo's metadata; the image itself is at `url`."""

    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    person_id: uuid.UUID
    stay_id: uuid.UUID | None
    station_id: str
    kind: PhotoKind
    content_type: str
    size_bytes: int
    sha256: str = Field(description="SHA-256 of the image bytes, hex.")
    taken_at: datetime
    added_at: datetime
    url: str = Field(default="", description="Where to read the image.")

    @classmethod
    def of(cls, photo: PersonPhoto) -> PhotoView:
        view = cls.model_validate(photo)
        view.url = f"/persons/{photo.person_id}/photos/{photo.id}"
        return view


@router.post(
    "/{person_id}/photos",
    status_code=201,
    response_model=PhotoView,
    responses={413: {"description": "The image is larger than 2 MiB."}},
    # 2 MiB of image is 2.7 MiB of base64: the body may be that large (the chassis
    # refuses anything larger before reading it; a little over 2 MiB, the route does).
    openapi_extra=body_limit(3 * MIB),
)
async def add_photo(
    person_id: uuid.UUID,
    upload: PhotoUpload,
    principal: PrincipalDep,
    session: SessionDep,
    runtime: RuntimeDep,
    response: Response,
    idempotency_key: IdempotencyKey = None,
):
    """Add a photo (face, full body, belongings) to the person's record. It is kept
    with its SHA-256; `photo_added` carries the metadata only, never the image."""
    try:
        image, content_type = decode_photo(upload.image)
    except PhotoTooLarge as too_large:
        raise Problem(413, "Photo too large", str(too_large)) from None
    except CareRefused as error:
        raise refused(error) from None
    idem = await IdempotentRequest.check(
        session, tables.idempotency, idempotency_key, principal, upload
    )
    if idem.replayed:
        return JSONResponse(idem.stored_response, status_code=idem.stored_status)
    person = await load_person(session, runtime, principal, person_id, for_update=True)
    now = datetime.now(UTC)
    try:
        check_time("taken_at", upload.taken_at, now=now)
    except CareRefused as error:
        raise refused(error) from None
    stay = await session.get(Stay, person.current_stay_id)
    photo = PersonPhoto(
        id=uuid.uuid4(),
        person_id=person.id,
        stay_id=stay.id if stay else None,
        station_id=stay.station_id if stay else person.station_id,
        kind=upload.kind.value,
        content_type=content_type,
        size_bytes=len(image),
        sha256=hashlib.sha256(image).hexdigest(),
        image=image,
        taken_at=upload.taken_at,
        added_by=principal.subject,
        added_at=now,
    )
    session.add(photo)
    await runtime.outbox.stage(
        session,
        PhotoAddedV1(
            person_id=person.id,
            photo_id=photo.id,
            stay_id=photo.stay_id,
            station_id=photo.station_id,
            kind=upload.kind,
            content_type=content_type,
            size_bytes=photo.size_bytes,
            sha256=photo.sha256,
            taken_at=upload.taken_at,
        ),
    )
    await session.flush()
    view = PhotoView.of(photo)
    await idem.remember(session, 201, view.model_dump(mode="json"))
    await session.commit()
    response.headers["Location"] = view.url
    return view


@router.get("/{person_id}/photos", response_model=list[PhotoView])
async def list_photos(
    person_id: uuid.UUID, principal: PrincipalDep, session: SessionDep, runtime: RuntimeDep
):
    """The person's photos (metadata), earliest taken first."""
    person = await load_person(session, runtime, principal, person_id)
    photos = (
        await session.scalars(
            select(PersonPhoto)
            .options(defer(PersonPhoto.image))
            .where(PersonPhoto.person_id == person.id)
            .order_by(PersonPhoto.taken_at, PersonPhoto.added_at)
        )
    ).all()
    return [PhotoView.of(p) for p in photos]


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
    person = await load_person(session, runtime, principal, person_id)
    photo = await session.get(PersonPhoto, photo_id)
    if photo is None or photo.person_id != person.id:
        raise Problem(404, "Not found", "No such photo.")
    log.info(
        "photo read",
        extra={
            "photo_id": str(photo.id),
            "person_id": str(person.id),
            "subject": principal.subject,
            "station_id": principal.station_id,
        },
    )
    digest = base64.b64encode(bytes.fromhex(photo.sha256)).decode()
    return Response(
        content=photo.image,
        media_type=photo.content_type,
        headers={
            "ETag": f'"{photo.sha256}"',
            "Content-Digest": f"sha-256=:{digest}:",
            "Cache-Control": "private, no-store",
        },
    )


# ---- belongings (随身物品) -------------------------------------------------------


class BelongingItem(BaseModel):
    """One line of the inventory."""

    model_config = ConfigDict(extra="forbid")

    description: str = Field(
        min_length=1,
        max_length=300,
        description="What the item is.",
        examples=["黑色双肩包"],
    )
    quantity: StrictInt = Field(default=1, ge=1, le=10_000, description="How many.", examples=[1])
    condition: str | None = Field(
        default=None,
        max_length=300,
        description="Its condition when received.",
        examples=["旧，拉链损坏"],
    )
    notes: str | None = Field(
        default=None,
        max_length=1000,
        description="Anything else: contents, where it is stored, cash counted with a witness.",
        examples=["内有换洗衣物三件，存放于2号物品柜"],
    )


class BelongingsInventory(BaseModel):
    """Belongings received from the person for the current stay."""

    model_config = ConfigDict(extra="forbid")

    received_at: PastInstant | None = Field(
        default=None,
        description="When the station took them in, with its offset; now if omitted.",
        examples=["2026-11-23T09:10:00+08:00"],
    )
    items: list[BelongingItem] = Field(
        min_length=1,
        max_length=100,
        description="The inventory lines.",
        examples=[[{"description": "身份证复印件", "quantity": 1}]],
    )


class BelongingView(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    stay_id: uuid.UUID
    description: str
    quantity: int
    condition: str | None
    notes: str | None
    received_at: datetime
    recorded_at: datetime
    returned_at: datetime | None = Field(description="Handed back at discharge; null if not.")
    return_note: str | None = Field(description="About the return, or why not returned.")


@router.post("/{person_id}/belongings", status_code=201, response_model=list[BelongingView])
async def record_belongings(
    person_id: uuid.UUID,
    inventory: BelongingsInventory,
    principal: PrincipalDep,
    session: SessionDep,
    runtime: RuntimeDep,
    idempotency_key: IdempotencyKey = None,
):
    """Record belongings taken in for the current stay; they must be returned (or
    it said why not) when the stay ends."""
    idem = await IdempotentRequest.check(
        session, tables.idempotency, idempotency_key, principal, inventory
    )
    if idem.replayed:
        return JSONResponse(idem.stored_response, status_code=idem.stored_status)
    person = await load_person(session, runtime, principal, person_id, for_update=True)
    stay = await open_stay(session, person)
    now = datetime.now(UTC)
    received_at = inventory.received_at or now
    try:
        check_time("received_at", received_at, now=now, not_before=stay.arrived_at)
    except CareRefused as error:
        raise refused(error) from None
    items = [
        Belonging(
            id=uuid.uuid4(),
            person_id=person.id,
            stay_id=stay.id,
            station_id=stay.station_id,
            description=item.description,
            quantity=item.quantity,
            condition=item.condition,
            notes=item.notes,
            received_at=received_at,
            recorded_by=principal.subject,
            recorded_at=now,
        )
        for item in inventory.items
    ]
    session.add_all(items)
    await runtime.outbox.stage(
        session,
        BelongingsRecordedV1(
            person_id=person.id,
            stay_id=stay.id,
            station_id=stay.station_id,
            received_at=received_at,
            items=len(items),
        ),
    )
    await session.flush()
    views = [BelongingView.model_validate(i) for i in items]
    await idem.remember(session, 201, [v.model_dump(mode="json") for v in views])
    await session.commit()
    return views


@router.get("/{person_id}/belongings", response_model=list[BelongingView])
async def list_belongings(
    person_id: uuid.UUID, principal: PrincipalDep, session: SessionDep, runtime: RuntimeDep
):
    """The belongings of every stay, in the order they were received."""
    person = await load_person(session, runtime, principal, person_id)
    return (
        await session.scalars(
            select(Belonging)
            .where(Belonging.person_id == person.id)
            .order_by(Belonging.received_at, Belonging.recorded_at, Belonging.description)
        )
    ).all()


# ---- the basic health check (入站基础健康检视) -----------------------------------


class HealthCheckRequest(BaseModel):
    """A basic health check; a stay may have several (the latest is shown first).
    A measurement not taken is left out."""

    model_config = ConfigDict(extra="forbid")

    checked_at: PastInstant | None = Field(
        default=None,
        description="When the check was done, with its offset; now if omitted.",
        examples=["2026-11-23T09:20:00+08:00"],
    )
    checked_by: str = Field(
        min_length=1,
        max_length=200,
        description="Who examined the person (doctor, nurse or staff member).",
        examples=["站医 王芳"],
    )
    temperature_c: StrictFloat | None = Field(
        default=None,
        ge=TEMPERATURE_C[0],
        le=TEMPERATURE_C[1],
        description="Body temperature, °C.",
        examples=[36.8],
    )
    systolic_mmhg: StrictInt | None = Field(
        default=None,
        ge=SYSTOLIC_MMHG[0],
        le=SYSTOLIC_MMHG[1],
        description="Blood pressure, systolic, mmHg (with diastolic_mmhg).",
        examples=[128],
    )
    diastolic_mmhg: StrictInt | None = Field(
        default=None,
        ge=DIASTOLIC_MMHG[0],
        le=DIASTOLIC_MMHG[1],
        description="Blood pressure, diastolic, mmHg (with systolic_mmhg).",
        examples=[82],
    )
    pulse_per_minute: StrictInt | None = Field(
        default=None,
        ge=PULSE_PER_MINUTE[0],
        le=PULSE_PER_MINUTE[1],
        description="Pulse, beats per minute.",
        examples=[76],
    )
    injuries: str | None = Field(
        default=None,
        max_length=2000,
        description="Visible injuries and what was done about them.",
        examples=["左小腿擦伤，已消毒包扎"],
    )
    infectious_screening: InfectiousScreening = Field(
        description="Infectious-disease screening: not_done, negative, suspected or positive "
        "(suspected and positive: isolate and refer to a hospital)."
    )
    infectious_notes: str | None = Field(
        default=None,
        max_length=1000,
        description="What was screened for and how.",
        examples=["肺结核症状问诊及胸片：未见异常"],
    )
    notes: str | None = Field(
        default=None,
        max_length=2000,
        description="Anything else: chronic illness, medication, mental state.",
        examples=["自述有高血压史，未规律服药"],
    )


class HealthCheckView(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    stay_id: uuid.UUID
    checked_at: datetime
    checked_by: str
    temperature_c: float | None
    systolic_mmhg: int | None
    diastolic_mmhg: int | None
    pulse_per_minute: int | None
    injuries: str | None
    infectious_screening: InfectiousScreening
    infectious_notes: str | None
    notes: str | None
    recorded_at: datetime


class HealthChecks(BaseModel):
    latest: HealthCheckView | None = Field(description="The most recent check.")
    checks: list[HealthCheckView] = Field(description="Every check, latest first.")


@router.post("/{person_id}/health-checks", status_code=201, response_model=HealthCheckView)
async def record_health_check(
    person_id: uuid.UUID,
    check: HealthCheckRequest,
    principal: PrincipalDep,
    session: SessionDep,
    runtime: RuntimeDep,
    idempotency_key: IdempotencyKey = None,
):
    """Record a basic health check of a person in the station."""
    try:
        check_vitals(
            temperature_c=check.temperature_c,
            systolic_mmhg=check.systolic_mmhg,
            diastolic_mmhg=check.diastolic_mmhg,
            pulse_per_minute=check.pulse_per_minute,
        )
    except CareRefused as error:
        raise refused(error) from None
    idem = await IdempotentRequest.check(
        session, tables.idempotency, idempotency_key, principal, check
    )
    if idem.replayed:
        return JSONResponse(idem.stored_response, status_code=idem.stored_status)
    person = await load_person(session, runtime, principal, person_id, for_update=True)
    stay = await open_stay(session, person)
    now = datetime.now(UTC)
    checked_at = check.checked_at or now
    try:
        check_time("checked_at", checked_at, now=now, not_before=stay.arrived_at)
    except CareRefused as error:
        raise refused(error) from None
    record = HealthCheck(
        id=uuid.uuid4(),
        person_id=person.id,
        stay_id=stay.id,
        station_id=stay.station_id,
        checked_at=checked_at,
        checked_by=check.checked_by,
        temperature_c=check.temperature_c,
        systolic_mmhg=check.systolic_mmhg,
        diastolic_mmhg=check.diastolic_mmhg,
        pulse_per_minute=check.pulse_per_minute,
        injuries=check.injuries,
        infectious_screening=check.infectious_screening.value,
        infectious_notes=check.infectious_notes,
        notes=check.notes,
        recorded_by=principal.subject,
        recorded_at=now,
    )
    session.add(record)
    await runtime.outbox.stage(
        session,
        HealthCheckRecordedV1(
            person_id=person.id,
            stay_id=stay.id,
            station_id=stay.station_id,
            checked_at=checked_at,
            injuries_found=bool(check.injuries),
        ),
    )
    await session.flush()
    view = HealthCheckView.model_validate(record)
    await idem.remember(session, 201, view.model_dump(mode="json"))
    await session.commit()
    return view


@router.get("/{person_id}/health-checks", response_model=HealthChecks)
async def list_health_checks(
    person_id: uuid.UUID, principal: PrincipalDep, session: SessionDep, runtime: RuntimeDep
):
    """The person's health checks, the latest first (every stay)."""
    person = await load_person(session, runtime, principal, person_id)
    checks = [
        HealthCheckView.model_validate(c)
        for c in (
            await session.scalars(
                select(HealthCheck)
                .where(HealthCheck.person_id == person.id)
                .order_by(HealthCheck.checked_at.desc(), HealthCheck.recorded_at.desc())
            )
        ).all()
    ]
    return HealthChecks(latest=checks[0] if checks else None, checks=checks)
