"""Outsourced care (站外托养), the monitored exception to care in the station:
placing a person, the monitoring visits, the end of the placement."""

from __future__ import annotations

import uuid

from pydantic import BaseModel, ConfigDict, Field

from intake.care_rules import (
    check_outsourced_care_start,
    check_time,
    visit_is_latest,
)
from intake.commands.record import load_person, open_stay
from intake.commands.stays import Discharge, discharge_stay
from intake.record_views import OutsourcedCareView, care_view
from intake.tables import Stay
from intake.tables.record import OutsourcedCare, OutsourcedCareVisit
from rescue_chassis.commands import Command, UnitOfWork
from rescue_chassis.moments import PastInstant
from rescue_chassis.refusals import Conflict, Forbidden, Refused
from rescue_events.contracts.intake_care import (
    OutsourcedCareEndedV1,
    OutsourcedCareOutcome,
    OutsourcedCareStartedV1,
    OutsourcedCareVisitedV1,
)


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


# ---- the open placement ------------------------------------------------------------


async def open_placement(uow: UnitOfWork, stay: Stay) -> OutsourcedCare | None:
    """The stay's placement not yet ended, if any, locked."""
    found = await uow.find(OutsourcedCare, stay_id=stay.id, ended_at=None, lock=True)
    return found[0] if found else None


async def placement_or_409(uow: UnitOfWork, stay: Stay) -> OutsourcedCare:
    placement = await open_placement(uow, stay)
    if placement is None:
        raise Conflict("Not in outsourced care", "The person has no open placement.")
    return placement


async def visits_of(uow: UnitOfWork, care: OutsourcedCare) -> list[OutsourcedCareVisit]:
    """The placement's visits, latest first."""
    visits = await uow.find(
        OutsourcedCareVisit, care_id=care.id, order_by=OutsourcedCareVisit.visited_at
    )
    return visits[::-1]


# ---- the use cases ---------------------------------------------------------------


class StartOutsourcedCare(Command):
    person_id: uuid.UUID
    start: OutsourcedCareStart


async def start_outsourced_care(
    command: StartOutsourcedCare, uow: UnitOfWork
) -> OutsourcedCareView:
    """Place a person who is in the station (409 otherwise, or if already placed)."""
    request = command.start
    person = await load_person(uow, command.person_id, lock=True)
    stay = await uow.get(Stay, person.current_stay_id, lock=True)
    stay_open = stay.discharged_at is None
    placement = await open_placement(uow, stay) if stay_open else None
    check_outsourced_care_start(
        person_status=person.status, stay_open=stay_open, placement_open=placement is not None
    )
    started_at = request.started_at or uow.now
    check_time("started_at", started_at, now=uow.now, not_before=stay.arrived_at)
    care = OutsourcedCare(
        id=uuid.uuid4(),
        person_id=person.id,
        stay_id=stay.id,
        station_id=stay.station_id,
        institution=request.institution,
        address=request.address,
        reason=request.reason,
        started_at=started_at,
        started_by=uow.actor.subject,
        health_status=request.health_status,
    )
    uow.add(care)
    await uow.publish(
        OutsourcedCareStartedV1(
            person_id=person.id,
            care_id=care.id,
            stay_id=stay.id,
            station_id=stay.station_id,
            institution=request.institution,
            started_at=started_at,
            reason=request.reason,
        )
    )
    return care_view(care, uow.now)


class RecordVisit(Command):
    person_id: uuid.UUID
    visit: MonitoringVisit


async def record_visit(command: RecordVisit, uow: UnitOfWork) -> OutsourcedCareView:
    """A monitoring visit to the open placement; the latest visit keeps its health
    status (and search progress) current."""
    visit = command.visit
    person = await load_person(uow, command.person_id, lock=True)
    stay = await open_stay(uow, person)
    care = await placement_or_409(uow, stay)
    check_time(
        "visited_at",
        visit.visited_at,
        now=uow.now,
        not_before=care.started_at,
        not_before_what="the placement started",
    )
    record = OutsourcedCareVisit(
        id=uuid.uuid4(),
        care_id=care.id,
        person_id=person.id,
        visited_at=visit.visited_at,
        visited_by=visit.visited_by,
        health_status=visit.health_status,
        search_progress=visit.search_progress,
        recorded_by=uow.actor.subject,
        recorded_at=uow.now,
    )
    uow.add(record)
    if visit_is_latest(visit.visited_at, care.last_visited_at):
        care.last_visited_at = visit.visited_at
        care.health_status = visit.health_status
        if visit.search_progress:
            care.search_progress = visit.search_progress
    await uow.publish(
        OutsourcedCareVisitedV1(
            person_id=person.id,
            care_id=care.id,
            visit_id=record.id,
            station_id=care.station_id,
            visited_at=visit.visited_at,
            health_status=visit.health_status,
            search_progress=visit.search_progress,
        )
    )
    return care_view(care, uow.now, await visits_of(uow, care))


class EndOutsourcedCare(Command):
    person_id: uuid.UUID
    end: OutsourcedCareEnd


async def end_outsourced_care(command: EndOutsourcedCare, uow: UnitOfWork) -> OutsourcedCareView:
    """Back in the station, or discharged: the stay ends too, by the rules of a
    discharge, and the placement with it."""
    end = command.end
    discharged = end.outcome is OutsourcedCareOutcome.DISCHARGED
    if discharged and end.discharge is None:
        raise Refused("discharge", "the outcome `discharged` says how the stay ends")
    if not discharged and end.discharge is not None:
        raise Refused("discharge", "only with the outcome `discharged`")
    person = await load_person(uow, command.person_id, lock=True)
    stay = await open_stay(uow, person, lock=True)
    care = await placement_or_409(uow, stay)
    ended_at = end.ended_at or uow.now
    check_time(
        "ended_at",
        ended_at,
        now=uow.now,
        not_before=care.started_at,
        not_before_what="the placement started",
    )
    care.end_note = end.note
    if discharged:
        if uow.actor.station_id != stay.station_id:
            raise Forbidden("Not the caring station", f"Station {stay.station_id} discharges.")
        discharge = end.discharge
        if discharge.discharged_at is None:
            discharge = discharge.model_copy(update={"discharged_at": ended_at})
        # Ends the placement (outcome discharged, at the discharge time) with the stay.
        await discharge_stay(uow, person, stay, discharge)
    else:
        care.ended_at = ended_at
        care.outcome = OutsourcedCareOutcome.BACK_IN_STATION.value
        care.ended_by = uow.actor.subject
        await uow.publish(
            OutsourcedCareEndedV1(
                person_id=person.id,
                care_id=care.id,
                stay_id=stay.id,
                station_id=care.station_id,
                ended_at=ended_at,
                outcome=OutsourcedCareOutcome.BACK_IN_STATION,
            )
        )
    return care_view(care, uow.now, await visits_of(uow, care))
