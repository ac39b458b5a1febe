"""What the person's record and care answer with (API-out models), and the reads
behind the reading routes: photos, belongings, health checks, outsourced care,
the settlement procedure."""

from __future__ import annotations

import base64
import datetime as dt
import logging
import uuid
from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import select
from sqlalchemy.orm import defer

from intake.care_rules import (
    VISIT_INTERVAL,
    InfectiousScreening,
    days_since_last_visit,
    next_settlement_step,
    settlement_complete,
    visit_overdue,
)
from intake.tables import Person, Stay
from intake.tables.record import (
    Belonging,
    HealthCheck,
    OutsourcedCare,
    OutsourcedCareVisit,
    PersonPhoto,
    SettlementStepRecord,
)
from rescue_chassis.access import ensure_known_station, viewed_station
from rescue_chassis.auth import Principal
from rescue_chassis.commands import UnitOfWork
from rescue_chassis.refusals import NotFound
from rescue_events.contracts.intake_care import OutsourcedCareOutcome, PhotoKind, SettlementStep

log = logging.getLogger(__name__)

# ---- photos ------------------------------------------------------------------


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


async def photos_of(session, person: Person) -> list[PhotoView]:
    """The person's photos (metadata only), earliest taken first."""
    photos = await session.scalars(
        select(PersonPhoto)
        .options(defer(PersonPhoto.image))
        .where(PersonPhoto.person_id == person.id)
        .order_by(PersonPhoto.taken_at, PersonPhoto.added_at)
    )
    return [PhotoView.of(p) for p in photos.all()]


async def read_photo(
    session, person: Person, photo_id: uuid.UUID, reader: Principal
) -> PersonPhoto:
    """One of the person's photos, image included (404 for another's). Face data
    is sensitive (PIPL): every read is logged."""
    photo = await session.get(PersonPhoto, photo_id)
    if photo is None or photo.person_id != person.id:
        raise NotFound("photo")
    log.info(
        "photo read",
        extra={
            "photo_id": str(photo.id),
            "person_id": str(person.id),
            "subject": reader.subject,
            "station_id": reader.station_id,
        },
    )
    return photo


def photo_headers(photo: PersonPhoto) -> dict[str, str]:
    """Its digest, twice (ETag, Content-Digest), and that nothing may cache it."""
    digest = base64.b64encode(bytes.fromhex(photo.sha256)).decode()
    return {
        "ETag": f'"{photo.sha256}"',
        "Content-Digest": f"sha-256=:{digest}:",
        "Cache-Control": "private, no-store",
    }


# ---- belongings ----------------------------------------------------------------


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


async def belongings_of(session, person: Person) -> list[BelongingView]:
    """The belongings of every stay, in the order they were received."""
    items = await session.scalars(
        select(Belonging)
        .where(Belonging.person_id == person.id)
        .order_by(Belonging.received_at, Belonging.recorded_at, Belonging.description)
    )
    return [BelongingView.model_validate(i) for i in items.all()]


# ---- health checks ---------------------------------------------------------------


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


async def health_checks_of(session, person: Person) -> HealthChecks:
    """The person's health checks, the latest first (every stay)."""
    found = await session.scalars(
        select(HealthCheck)
        .where(HealthCheck.person_id == person.id)
        .order_by(HealthCheck.checked_at.desc(), HealthCheck.recorded_at.desc())
    )
    checks = [HealthCheckView.model_validate(c) for c in found.all()]
    return HealthChecks(latest=checks[0] if checks else None, checks=checks)


# ---- outsourced care -------------------------------------------------------------


class VisitView(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    visited_at: datetime
    visited_by: str
    health_status: str
    search_progress: str | None
    recorded_at: datetime


class OutsourcedCareView(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    person_id: uuid.UUID
    stay_id: uuid.UUID
    station_id: str
    institution: str
    address: str
    reason: str
    started_at: datetime
    health_status: str | None = Field(description="As found on the latest visit.")
    search_progress: str | None = Field(description="As reported on the latest visit.")
    last_visited_at: datetime | None
    days_since_last_visit: int | None = Field(
        default=None, description="Since the latest visit (or the placement); open placements."
    )
    overdue: bool = Field(
        default=False,
        description=f"Open and not visited for {VISIT_INTERVAL.days} days or more.",
    )
    ended_at: datetime | None
    outcome: OutsourcedCareOutcome | None
    end_note: str | None
    visits: list[VisitView] = Field(default_factory=list, description="Latest first.")


def care_view(
    care: OutsourcedCare, now: datetime, visits: list[OutsourcedCareVisit] | None = None
) -> OutsourcedCareView:
    """The placement as of ``now``, with its visits (latest first)."""
    view = OutsourcedCareView.model_validate(care)
    if care.ended_at is None:
        view.days_since_last_visit = days_since_last_visit(
            care.started_at, care.last_visited_at, now
        )
        view.overdue = visit_overdue(care.started_at, care.last_visited_at, now)
    view.visits = [VisitView.model_validate(v) for v in visits or []]
    return view


async def placements_of(session, person: Person, now: datetime) -> list[OutsourcedCareView]:
    """The person's placements (every stay), latest first, with their visits."""
    placements = await session.scalars(
        select(OutsourcedCare)
        .where(OutsourcedCare.person_id == person.id)
        .order_by(OutsourcedCare.started_at.desc())
    )
    views = []
    for care in placements.all():
        visits = await session.scalars(
            select(OutsourcedCareVisit)
            .where(OutsourcedCareVisit.care_id == care.id)
            .order_by(OutsourcedCareVisit.visited_at.desc())
        )
        views.append(care_view(care, now, list(visits.all())))
    return views


async def station_placements(
    uow: UnitOfWork, station_id: str | None, overdue: bool | None
) -> list[OutsourcedCareView]:
    """The station's open placements (the caller's station, or ``station_id`` for the
    center), longest without a visit first (only the overdue ones, or only those
    visited in time, if ``overdue`` says so)."""
    ensure_known_station(uow.actor, uow.network)
    station = viewed_station(uow.actor, uow.network, station_id)
    placements = await uow.session.scalars(
        select(OutsourcedCare)
        .join(Stay, Stay.id == OutsourcedCare.stay_id)
        .where(
            OutsourcedCare.station_id == station,
            OutsourcedCare.ended_at.is_(None),
            # a stay ended otherwise (a death reported as an incident) ends care too
            Stay.discharged_at.is_(None),
        )
    )
    views = [care_view(c, uow.now) for c in placements.all()]
    if overdue is not None:
        views = [v for v in views if v.overdue is overdue]
    return sorted(views, key=lambda v: -(v.days_since_last_visit or 0))


# ---- the settlement procedure ----------------------------------------------------


class StepView(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    step: SettlementStep
    number: int
    done_on: dt.date
    done_by: str
    note: str | None
    recorded_at: datetime


class SettlementView(BaseModel):
    person_id: uuid.UUID
    stay_id: uuid.UUID
    long_stay_reached_at: datetime | None = Field(
        description="When the stay became a long stay; the procedure starts then."
    )
    steps: list[StepView] = Field(description="The steps done, in order.")
    next_step: SettlementStep | None = Field(
        description="The step to do next; null before the long stay and once complete."
    )
    complete: bool = Field(description="Placed in an institution: discharge as `settled`.")


def settlement_view(
    person_id: uuid.UUID, stay: Stay, steps: list[SettlementStepRecord]
) -> SettlementView:
    done = [SettlementStep(s.step) for s in steps]
    return SettlementView(
        person_id=person_id,
        stay_id=stay.id,
        long_stay_reached_at=stay.long_stay_reached_at,
        steps=[StepView.model_validate(s) for s in steps],
        next_step=next_settlement_step(done) if stay.long_stay_reached_at else None,
        complete=settlement_complete(done),
    )


async def settlement_of(session, person: Person) -> SettlementView:
    """The current stay's settlement procedure: the steps done and the next one."""
    stay = await session.get(Stay, person.current_stay_id)
    steps = await session.scalars(
        select(SettlementStepRecord)
        .where(SettlementStepRecord.stay_id == stay.id)
        .order_by(SettlementStepRecord.number)
    )
    return settlement_view(person.id, stay, list(steps.all()))
