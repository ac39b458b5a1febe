"""Incidents: death, a person gone missing (走失), injury — recorded and published
at once for the civil-affairs bureau."""

from __future__ import annotations

import uuid

from pydantic import BaseModel, ConfigDict, Field

from intake.commands.record import load_person, open_stay
from intake.commands.stays import Discharge, discharge_stay
from intake.tables import Incident
from intake.views import PersonView, person_view_in
from rescue_chassis.commands import Command, UnitOfWork
from rescue_chassis.moments import PastInstant
from rescue_chassis.refusals import Refused
from rescue_events.contracts import DischargeReason, IncidentKind, IncidentReportedV1

# A death's belongings stay in the station's keeping until the family claims them.
KEPT_FOR_THE_FAMILY = "死亡：随身物品由站内保管，待家属领取"


class IncidentReport(BaseModel):
    model_config = ConfigDict(extra="forbid")

    kind: IncidentKind = Field(description="death, missing (走失) or injury.")
    occurred_at: PastInstant = Field(
        description="When it happened (or was noticed), with its offset.",
        examples=["2026-11-23T02:40:00+08:00"],
    )
    description: str = Field(
        min_length=1,
        max_length=2000,
        description="What happened and what was done, for the civil-affairs bureau.",
        examples=["夜间查房发现不在床位，已报警"],
    )


class ReportIncident(Command):
    person_id: uuid.UUID
    report: IncidentReport


async def report_incident(command: ReportIncident, uow: UnitOfWork) -> PersonView:
    """A death ends the stay (discharged: died); a person gone missing is marked
    missing until found or discharged; every incident goes out at once."""
    report = command.report
    person = await load_person(uow, command.person_id, lock=True)
    stay = await open_stay(uow, person, lock=True)
    if report.occurred_at > uow.now:
        raise Refused("occurred_at", "lies in the future")
    if report.occurred_at < stay.arrived_at:
        raise Refused("occurred_at", "is before the person arrived")
    incident = Incident(
        id=uuid.uuid4(),
        person_id=person.id,
        stay_id=stay.id,
        station_id=stay.station_id,
        kind=report.kind.value,
        occurred_at=report.occurred_at,
        description=report.description,
        reported_by=uow.actor.subject,
        reported_at=uow.now,
    )
    uow.add(incident)
    await uow.publish(
        IncidentReportedV1(
            person_id=person.id,
            incident_id=incident.id,
            stay_id=stay.id,
            station_id=stay.station_id,
            kind=report.kind,
            occurred_at=report.occurred_at,
            description=report.description,
        )
    )
    if report.kind is IncidentKind.DEATH:
        # The stay ends as any discharge does: an outsourced placement ends with it.
        died = Discharge(
            reason=DischargeReason.DIED,
            discharged_at=report.occurred_at,
            note=report.description,
            belongings_returned=False,
            belongings_note=KEPT_FOR_THE_FAMILY,
        )
        await discharge_stay(uow, person, stay, died)
    elif report.kind is IncidentKind.MISSING:
        person.status = "missing"
    return await person_view_in(uow, person)
