"""Care: in the station by default; outsourced care (站外托养) as the monitored
exception: who cares for the person, where, their health and the search's
progress, from the placement's monitoring visits."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

from fastapi import APIRouter, Query
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import select

from intake.api.persons import load_person
from intake.api.record import conflict, open_stay, refused
from intake.api.stays import Discharge, discharge_stay
from intake.care_rules import (
    VISIT_INTERVAL,
    CareConflict,
    CareRefused,
    check_outsourced_care_start,
    check_time,
    days_since_last_visit,
    visit_is_latest,
    visit_overdue,
)
from intake.tables import Stay, tables
from intake.tables.record import OutsourcedCare, OutsourcedCareVisit
from rescue_chassis.access import STATION_WORK, ensure_known_station, viewed_station
from rescue_chassis.auth import PrincipalDep, require_roles
from rescue_chassis.db import SessionDep
from rescue_chassis.idempotency import IdempotencyKey, IdempotentRequest
from rescue_chassis.moments import PastInstant
from rescue_chassis.problems import Problem, invalid
from rescue_chassis.runtime import RuntimeDep
from rescue_events.contracts.intake_care import (
    OutsourcedCareEndedV1,
    OutsourcedCareOutcome,
    OutsourcedCareStartedV1,
    OutsourcedCareVisitedV1,
)

router = APIRouter(tags=["care"], dependencies=[require_roles(*STATION_WORK)])


class OutsourcedCareStart(BaseModel):
    """Place a person in station with an outside institution (站外托养)."""

    model_config = ConfigDict(extra="forbid")

    institution: str = Field(
        min_length=1,
        max_length=200,
        description="The institution that cares for the person.",
        examples=["固始县社会福利院"],
    )
    address: str = Field(
        min_length=1,
        max_length=300,
        description="Where it is: where monitoring visits go.",
        examples=["河南省信阳市固始县城关镇福利路8号"],
    )
    started_at: PastInstant | None = Field(
        default=None,
        description="When the person was placed, with its offset; now if omitted.",
        examples=["2026-11-24T10:00:00+08:00"],
    )
    reason: str = Field(
        min_length=1,
        max_length=2000,
        description="Why care in the station is not enough (care is in-station by default).",
        examples=["生活不能自理，需要长期护理，站内无护理条件"],
    )
    health_status: str | None = Field(
        default=None,
        max_length=1000,
        description="The person's health at the placement; visits keep it current.",
        examples=["卧床，意识清醒"],
    )


class MonitoringVisit(BaseModel):
    """A monitoring visit to a person in outsourced care."""

    model_config = ConfigDict(extra="forbid")

    visited_at: PastInstant = Field(
        description="When the visit took place, with its offset.",
        examples=["2026-12-10T15:00:00+08:00"],
    )
    visited_by: str = Field(
        min_length=1,
        max_length=200,
        description="Who of the station visited.",
        examples=["李明（站内社工）"],
    )
    health_status: str = Field(
        min_length=1,
        max_length=1000,
        description="The person's health as found: becomes the placement's current status "
        "unless a later visit is already recorded.",
        examples=["精神状况稳定，饮食正常"],
    )
    search_progress: str | None = Field(
        default=None,
        max_length=2000,
        description="Where the search for the family stands.",
        examples=["已采血录入打拐DNA库，暂无比中"],
    )


class OutsourcedCareEnd(BaseModel):
    """The placement ends: the person is back in the station, or the stay ends
    while the person is outside (returned home, transferred, died…), with the
    stay's discharge."""

    model_config = ConfigDict(extra="forbid")

    outcome: OutsourcedCareOutcome = Field(
        description="back_in_station, or discharged (then `discharge` says how the stay ends)."
    )
    ended_at: PastInstant | None = Field(
        default=None,
        description="When the placement ended, with its offset; now if omitted. Also the "
        "discharge time unless `discharge.discharged_at` says otherwise.",
        examples=["2026-11-05T09:00:00+08:00"],
    )
    note: str | None = Field(
        default=None,
        max_length=2000,
        description="What the record should keep about the end of the placement.",
        examples=["病情好转，接回站内照料"],
    )
    discharge: Discharge | None = Field(
        default=None,
        description="For `discharged` (and only then): the discharge of the stay.",
    )


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
    view = OutsourcedCareView.model_validate(care)
    if care.ended_at is None:
        view.days_since_last_visit = days_since_last_visit(
            care.started_at, care.last_visited_at, now
        )
        view.overdue = visit_overdue(care.started_at, care.last_visited_at, now)
    view.visits = [VisitView.model_validate(v) for v in visits or []]
    return view


async def _visits(session, care_id: uuid.UUID) -> list[OutsourcedCareVisit]:
    return list(
        (
            await session.scalars(
                select(OutsourcedCareVisit)
                .where(OutsourcedCareVisit.care_id == care_id)
                .order_by(OutsourcedCareVisit.visited_at.desc())
            )
        ).all()
    )


async def _open_placement(session, stay: Stay) -> OutsourcedCare | None:
    return await session.scalar(
        select(OutsourcedCare)
        .where(OutsourcedCare.stay_id == stay.id, OutsourcedCare.ended_at.is_(None))
        .with_for_update()
    )


async def _placement_or_409(session, stay: Stay) -> OutsourcedCare:
    placement = await _open_placement(session, stay)
    if placement is None:
        raise Problem(409, "Not in outsourced care", "The person has no open placement.")
    return placement


@router.post(
    "/persons/{person_id}/outsourced-care", status_code=201, response_model=OutsourcedCareView
)
async def start_outsourced_care(
    person_id: uuid.UUID,
    request: OutsourcedCareStart,
    principal: PrincipalDep,
    session: SessionDep,
    runtime: RuntimeDep,
    idempotency_key: IdempotencyKey = None,
):
    """Place a person who is in the station in outsourced care (409 otherwise)."""
    idem = await IdempotentRequest.check(
        session, tables.idempotency, idempotency_key, principal, request
    )
    if idem.replayed:
        return JSONResponse(idem.stored_response, status_code=idem.stored_status)
    person = await load_person(session, runtime, principal, person_id, for_update=True)
    stay = await session.get(Stay, person.current_stay_id, with_for_update=True)
    placement = await _open_placement(session, stay) if stay.discharged_at is None else None
    try:
        check_outsourced_care_start(
            person_status=person.status,
            stay_open=stay.discharged_at is None,
            placement_open=placement is not None,
        )
    except CareConflict as error:
        raise conflict(error) from None
    now = datetime.now(UTC)
    started_at = request.started_at or now
    try:
        check_time("started_at", started_at, now=now, not_before=stay.arrived_at)
    except CareRefused as error:
        raise refused(error) from None
    care = OutsourcedCare(
        id=uuid.uuid4(),
        person_id=person.id,
        stay_id=stay.id,
        station_id=stay.station_id,
        institution=request.institution,
        address=request.address,
        reason=request.reason,
        started_at=started_at,
        started_by=principal.subject,
        health_status=request.health_status,
    )
    session.add(care)
    await runtime.outbox.stage(
        session,
        OutsourcedCareStartedV1(
            person_id=person.id,
            care_id=care.id,
            stay_id=stay.id,
            station_id=stay.station_id,
            institution=request.institution,
            started_at=started_at,
            reason=request.reason,
        ),
    )
    await session.flush()
    view = care_view(care, now)
    await idem.remember(session, 201, view.model_dump(mode="json"))
    await session.commit()
    return view


@router.post(
    "/persons/{person_id}/outsourced-care/visits",
    status_code=201,
    response_model=OutsourcedCareView,
)
async def record_visit(
    person_id: uuid.UUID,
    visit: MonitoringVisit,
    principal: PrincipalDep,
    session: SessionDep,
    runtime: RuntimeDep,
    idempotency_key: IdempotencyKey = None,
):
    """Record a monitoring visit to the open placement; answers the placement, its
    health status now current."""
    idem = await IdempotentRequest.check(
        session, tables.idempotency, idempotency_key, principal, visit
    )
    if idem.replayed:
        return JSONResponse(idem.stored_response, status_code=idem.stored_status)
    person = await load_person(session, runtime, principal, person_id, for_update=True)
    stay = await open_stay(session, person)
    care = await _placement_or_409(session, stay)
    now = datetime.now(UTC)
    try:
        check_time(
            "visited_at",
            visit.visited_at,
            now=now,
            not_before=care.started_at,
            not_before_what="the placement started",
        )
    except CareRefused as error:
        raise refused(error) from None
    record = OutsourcedCareVisit(
        id=uuid.uuid4(),
        care_id=care.id,
        person_id=person.id,
        visited_at=visit.visited_at,
        visited_by=visit.visited_by,
        health_status=visit.health_status,
        search_progress=visit.search_progress,
        recorded_by=principal.subject,
        recorded_at=now,
    )
    session.add(record)
    if visit_is_latest(visit.visited_at, care.last_visited_at):
        care.last_visited_at = visit.visited_at
        care.health_status = visit.health_status
        if visit.search_progress:
            care.search_progress = visit.search_progress
    await runtime.outbox.stage(
        session,
        OutsourcedCareVisitedV1(
            person_id=person.id,
            care_id=care.id,
            visit_id=record.id,
            station_id=care.station_id,
            visited_at=visit.visited_at,
            health_status=visit.health_status,
            search_progress=visit.search_progress,
        ),
    )
    await session.flush()
    view = care_view(care, now, await _visits(session, care.id))
    await idem.remember(session, 201, view.model_dump(mode="json"))
    await session.commit()
    return view


@router.post("/persons/{person_id}/outsourced-care/end", response_model=OutsourcedCareView)
async def end_outsourced_care(
    person_id: uuid.UUID,
    request: OutsourcedCareEnd,
    principal: PrincipalDep,
    session: SessionDep,
    runtime: RuntimeDep,
):
    """End the open placement: back in the station, or discharged (the stay ends too,
    with the same rules as `POST /persons/{id}/discharge`)."""
    discharged = request.outcome is OutsourcedCareOutcome.DISCHARGED
    if discharged and request.discharge is None:
        raise invalid("discharge", "the outcome `discharged` says how the stay ends")
    if not discharged and request.discharge is not None:
        raise invalid("discharge", "only with the outcome `discharged`")
    person = await load_person(session, runtime, principal, person_id, for_update=True)
    stay = await open_stay(session, person, for_update=True)
    care = await _placement_or_409(session, stay)
    now = datetime.now(UTC)
    ended_at = request.ended_at or now
    try:
        check_time(
            "ended_at",
            ended_at,
            now=now,
            not_before=care.started_at,
            not_before_what="the placement started",
        )
    except CareRefused as error:
        raise refused(error) from None
    care.end_note = request.note
    if discharged:
        if principal.station_id != stay.station_id:
            raise Problem(403, "Not the caring station", f"Station {stay.station_id} discharges.")
        discharge = request.discharge
        if discharge.discharged_at is None:
            discharge = discharge.model_copy(update={"discharged_at": ended_at})
        # Ends the placement (outcome discharged, at the discharge time) with the stay.
        await discharge_stay(
            session, runtime, person, stay, discharge, by=principal.subject, now=now
        )
    else:
        care.ended_at = ended_at
        care.outcome = OutsourcedCareOutcome.BACK_IN_STATION.value
        care.ended_by = principal.subject
        await runtime.outbox.stage(
            session,
            OutsourcedCareEndedV1(
                person_id=person.id,
                care_id=care.id,
                stay_id=stay.id,
                station_id=care.station_id,
                ended_at=ended_at,
                outcome=OutsourcedCareOutcome.BACK_IN_STATION,
            ),
        )
    await session.flush()
    view = care_view(care, now, await _visits(session, care.id))
    await session.commit()
    return view


@router.get("/persons/{person_id}/outsourced-care", response_model=list[OutsourcedCareView])
async def person_outsourced_care(
    person_id: uuid.UUID, principal: PrincipalDep, session: SessionDep, runtime: RuntimeDep
):
    """The person's placements (every stay), latest first, with their visits."""
    person = await load_person(session, runtime, principal, person_id)
    now = datetime.now(UTC)
    placements = (
        await session.scalars(
            select(OutsourcedCare)
            .where(OutsourcedCare.person_id == person.id)
            .order_by(OutsourcedCare.started_at.desc())
        )
    ).all()
    return [care_view(c, now, await _visits(session, c.id)) for c in placements]


@router.get("/station/outsourced-care", response_model=list[OutsourcedCareView])
async def station_outsourced_care(
    principal: PrincipalDep,
    session: SessionDep,
    runtime: RuntimeDep,
    overdue: bool | None = Query(
        default=None,
        description=f"Only placements not visited for {VISIT_INTERVAL.days} days (or only "
        "those visited in time).",
    ),
    station_id: str | None = Query(default=None, description="The center may look at any."),
):
    """The station's open placements, longest without a visit first, each with the
    days since its last visit and whether a visit is overdue."""
    ensure_known_station(principal, runtime.network)
    station = viewed_station(principal, runtime.network, station_id)
    now = datetime.now(UTC)
    placements = (
        await session.scalars(
            select(OutsourcedCare)
            .join(Stay, Stay.id == OutsourcedCare.stay_id)
            .where(
                OutsourcedCare.station_id == station,
                OutsourcedCare.ended_at.is_(None),
                # a stay ended otherwise (a death reported as an incident) ends care too
                Stay.discharged_at.is_(None),
            )
        )
    ).all()
    views = [care_view(c, now) for c in placements]
    if overdue is not None:
        views = [v for v in views if v.overdue is overdue]
    return sorted(views, key=lambda v: -(v.days_since_last_visit or 0))
