"""The person's record on admission, beyond the basics: photos, the belongings
inventory (随身物品), the basic health check (入站基础健康检视); and the loaders
of a person and their stay that intake's use cases share."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import uuid

from pydantic import BaseModel, ConfigDict, Field, StrictFloat, StrictInt

from intake.broker_images import fit_for_broker
from intake.care_rules import (
    DIASTOLIC_MMHG,
    MAX_PHOTO_BYTES,
    PULSE_PER_MINUTE,
    SYSTOLIC_MMHG,
    TEMPERATURE_C,
    InfectiousScreening,
    check_time,
    check_vitals,
    decode_photo,
)
from intake.record_views import BelongingView, HealthCheckView, PhotoView
from intake.tables import Person, Stay
from intake.tables.record import Belonging, HealthCheck, PersonPhoto
from rescue_chassis.commands import Command, UnitOfWork
from rescue_chassis.moments import PastInstant
from rescue_chassis.problems import base64_field
from rescue_chassis.refusals import Conflict
from rescue_events.contracts.intake_care import (
    SHARED_PHOTO_MAX_BYTES,
    BelongingsRecordedV1,
    HealthCheckRecordedV1,
    PhotoAddedV1,
    PhotoKind,
    PhotoSharedForSearchV1,
    PhotoWithheld,
)

# ---- the person and their stay ---------------------------------------------------


async def load_person(uow: UnitOfWork, person_id: uuid.UUID, *, lock: bool = False) -> Person:
    """The person, or a 404 when there is none or none the caller may see."""
    return await uow.load(Person, person_id, what="person", lock=lock)


async def open_stay(uow: UnitOfWork, person: Person, *, lock: bool = False) -> Stay:
    """The person's current stay, which must not have ended (409 otherwise)."""
    stay = await uow.get(Stay, person.current_stay_id, lock=lock)
    if stay is None or stay.discharged_at is not None:
        raise Conflict("Not in a station", "The person's stay has ended.")
    return stay


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


class AddPhoto(Command):
    person_id: uuid.UUID
    upload: PhotoUpload


async def add_photo(command: AddPhoto, uow: UnitOfWork) -> PhotoView:
    """The photo kept with its SHA-256; `photo_added` carries the metadata only, and
    a face photo is shared with search (`photo_shared_for_search`) to be enrolled."""
    upload = command.upload
    image, content_type = decode_photo(upload.image)  # 413 or 422 before any lookup
    person = await load_person(uow, command.person_id, lock=True)
    check_time("taken_at", upload.taken_at, now=uow.now)
    stay = await uow.get(Stay, person.current_stay_id)
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
        added_by=uow.actor.subject,
        added_at=uow.now,
    )
    uow.add(photo)
    await uow.publish(
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
        )
    )
    if upload.kind is PhotoKind.FACE:
        fitted = image if len(image) <= SHARED_PHOTO_MAX_BYTES else None
        if fitted is None:
            fitted = await asyncio.to_thread(fit_for_broker, image)
        await uow.publish(shared_for_search(photo, fitted))
    return PhotoView.of(photo)


def shared_for_search(photo: PersonPhoto, fitted: bytes | None) -> PhotoSharedForSearchV1:
    """A face photo for search: with its image, or a smaller copy when the photo is
    over the broker's message limit; without it, saying so, when no copy could be
    made (staff then upload it to search by hand)."""
    return PhotoSharedForSearchV1(
        person_id=photo.person_id,
        photo_id=photo.id,
        stay_id=photo.stay_id,
        station_id=photo.station_id,
        kind=PhotoKind(photo.kind),
        content_type=photo.content_type,
        size_bytes=photo.size_bytes,
        sha256=photo.sha256,
        taken_at=photo.taken_at,
        image=base64.b64encode(fitted).decode() if fitted is not None else None,
        withheld=None if fitted is not None else PhotoWithheld.TOO_LARGE,
        resized_to_fit=fitted is not None and len(fitted) != photo.size_bytes,
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


class RecordBelongings(Command):
    person_id: uuid.UUID
    inventory: BelongingsInventory


async def record_belongings(command: RecordBelongings, uow: UnitOfWork) -> list[BelongingView]:
    """Belongings taken in for the current stay, to be returned (or it said why
    not) when the stay ends."""
    person = await load_person(uow, command.person_id, lock=True)
    stay = await open_stay(uow, person)
    received_at = command.inventory.received_at or uow.now
    check_time("received_at", received_at, now=uow.now, not_before=stay.arrived_at)
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
            recorded_by=uow.actor.subject,
            recorded_at=uow.now,
        )
        for item in command.inventory.items
    ]
    uow.add(*items)
    await uow.publish(
        BelongingsRecordedV1(
            person_id=person.id,
            stay_id=stay.id,
            station_id=stay.station_id,
            received_at=received_at,
            items=len(items),
        )
    )
    return [BelongingView.model_validate(i) for i in items]


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


class RecordHealthCheck(Command):
    person_id: uuid.UUID
    check: HealthCheckRequest


async def record_health_check(command: RecordHealthCheck, uow: UnitOfWork) -> HealthCheckView:
    """A basic health check of a person in the station."""
    check = command.check
    check_vitals(
        temperature_c=check.temperature_c,
        systolic_mmhg=check.systolic_mmhg,
        diastolic_mmhg=check.diastolic_mmhg,
        pulse_per_minute=check.pulse_per_minute,
    )
    person = await load_person(uow, command.person_id, lock=True)
    stay = await open_stay(uow, person)
    checked_at = check.checked_at or uow.now
    check_time("checked_at", checked_at, now=uow.now, not_before=stay.arrived_at)
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
        recorded_by=uow.actor.subject,
        recorded_at=uow.now,
    )
    uow.add(record)
    await uow.publish(
        HealthCheckRecordedV1(
            person_id=person.id,
            stay_id=stay.id,
            station_id=stay.station_id,
            checked_at=checked_at,
            injuries_found=bool(check.injuries),
        )
    )
    return HealthCheckView.model_validate(record)
