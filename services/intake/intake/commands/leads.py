"""Hotline tips (线索): a call to the 24-hour hotline about someone who may need
help. received → triaged → assigned → closed; a closure with outcome
`admitted` admits the person in the same transaction, under the person id
minted when the lead came in."""

from __future__ import annotations

import uuid
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field

from intake.commands.admission import AdmissionRequest, admit
from intake.domain import (
    LeadStatus,
    check_lead_closure,
    check_moment,
    lead_assignment,
    lead_closure,
    lead_triage,
)
from intake.tables import Lead
from intake.views import LeadView
from rescue_chassis.commands import Command, UnitOfWork
from rescue_chassis.moments import PastInstant
from rescue_chassis.refusals import Forbidden, Refused
from rescue_events.contracts.intake_arrivals import (
    LeadAssignedV1,
    LeadClosedV1,
    LeadOutcome,
    LeadPriority,
    LeadReceivedV1,
    LeadTriagedV1,
)

Note = Annotated[str, Field(min_length=1, max_length=2000)]


class LeadReport(BaseModel):
    """What the caller reported."""

    model_config = ConfigDict(extra="forbid")

    caller_name: Annotated[str, Field(min_length=1, max_length=100)] | None = Field(
        default=None, description="The caller, if they give a name.", examples=["张女士"]
    )
    caller_phone: Annotated[str, Field(min_length=3, max_length=30)] | None = Field(
        default=None, description="A number to call back, if given.", examples=["13800138000"]
    )
    reported: Note = Field(
        description="What the caller saw: who, their state, what they need.",
        examples=["一名老年男子在桥洞下过夜，衣着单薄，说话听不懂"],
    )
    place: Annotated[str, Field(min_length=1, max_length=300)] = Field(
        description="Where the person was seen.", examples=["固始县史河大桥东侧桥洞"]
    )
    seen_at: PastInstant | None = Field(
        default=None,
        description="When the caller saw the person, with its offset.",
        examples=["2026-11-23T05:40:00+08:00"],
    )
    station_id: Annotated[str, Field(min_length=1, max_length=64)] | None = Field(
        default=None,
        description="The station that acts on the lead; the caller's own if omitted. The "
        "center's hotline may hand a lead to any satellite.",
        examples=["gushi"],
    )


class Triage(BaseModel):
    model_config = ConfigDict(extra="forbid")

    priority: LeadPriority = Field(
        description="urgent, normal, or no_action (nobody goes out; close the lead)."
    )
    note: Note | None = Field(
        default=None, description="Why this priority.", examples=["夜间气温低于零度，需立即出车"]
    )


class Assignment(BaseModel):
    model_config = ConfigDict(extra="forbid")

    assigned_to: Annotated[str, Field(min_length=1, max_length=200)] = Field(
        description="Who goes out: a staff member or a patrol team.",
        examples=["外展巡查二组 李明"],
    )


class LeadAdmission(AdmissionRequest):
    """The admission a lead's closure makes: an admission whose route is always
    hotline_tip."""

    arrival_route: Literal["hotline_tip"] = Field(
        default="hotline_tip",
        description="Always hotline_tip for a lead's admission.",
        examples=["hotline_tip"],
    )


class Closure(BaseModel):
    model_config = ConfigDict(extra="forbid")

    outcome: LeadOutcome = Field(
        description="admitted (with `admission`), refused_help (record the refusal with "
        "POST /refusals), not_found, referred_elsewhere (the note says where) or duplicate."
    )
    note: Note | None = Field(
        default=None,
        description="What happened; for referred_elsewhere, where to.",
        examples=["到场未发现当事人，已请派出所留意"],
    )
    admission: LeadAdmission | None = Field(
        default=None,
        description="For `admitted`: the admission, made in the same transaction.",
    )


class ReceiveLead(LeadReport, Command):
    """A tip taken by the caller's hotline."""


class TriageLead(Triage, Command):
    lead_id: uuid.UUID


class AssignLead(Assignment, Command):
    lead_id: uuid.UUID


class CloseLead(Closure, Command):
    lead_id: uuid.UUID


async def receive_lead(command: ReceiveLead, uow: UnitOfWork) -> LeadView:
    """A hotline tip comes in; lead_received goes out under a person id minted now.
    Only the center hands a lead to another station."""
    station_id = command.station_id or uow.actor.station_id
    if uow.network.station(station_id) is None:
        raise Refused("station_id", "is not a station of the network")
    if not uow.sees(station_id):
        raise Forbidden("Not your station", "Only the center hands a lead to another station.")
    if command.seen_at is not None:
        check_moment("seen_at", command.seen_at, now=uow.now)
    lead = Lead(
        id=uuid.uuid4(),
        person_id=uuid.uuid4(),
        station_id=station_id,
        status=LeadStatus.RECEIVED.value,
        caller_name=command.caller_name,
        caller_phone=command.caller_phone,
        reported=command.reported,
        place=command.place,
        seen_at=command.seen_at,
        received_at=uow.now,
        received_by=uow.actor.subject,
    )
    uow.add(lead)
    await uow.publish(
        LeadReceivedV1(
            person_id=lead.person_id,
            lead_id=lead.id,
            station_id=station_id,
            received_at=uow.now,
            seen_at=command.seen_at,
            place=command.place,
        )
    )
    return LeadView.model_validate(lead)


async def triage_lead(command: TriageLead, uow: UnitOfWork) -> LeadView:
    """How urgent the lead is: urgent, normal, or no_action."""
    lead = await uow.load(Lead, command.lead_id, what="lead", lock=True)
    lead.status = lead_triage(lead.status).value
    lead.priority = command.priority.value
    lead.triage_note = command.note
    lead.triaged_at = uow.now
    lead.triaged_by = uow.actor.subject
    await uow.publish(
        LeadTriagedV1(
            person_id=lead.person_id,
            lead_id=lead.id,
            station_id=lead.station_id,
            priority=lead.priority,
            triaged_at=lead.triaged_at,
        )
    )
    return LeadView.model_validate(lead)


async def assign_lead(command: AssignLead, uow: UnitOfWork) -> LeadView:
    """Who goes out. A new assignment replaces the last (the next shift takes over)."""
    lead = await uow.load(Lead, command.lead_id, what="lead", lock=True)
    lead.status = lead_assignment(lead.status, _priority(lead)).value
    lead.assigned_to = command.assigned_to
    lead.assigned_at = uow.now
    lead.assigned_by = uow.actor.subject
    await uow.publish(
        LeadAssignedV1(
            person_id=lead.person_id,
            lead_id=lead.id,
            station_id=lead.station_id,
            assigned_at=lead.assigned_at,
        )
    )
    return LeadView.model_validate(lead)


async def close_lead(command: CloseLead, uow: UnitOfWork) -> LeadView:
    """The lead's outcome. `admitted` admits the person to the lead's station in the
    same transaction (the admission rules apply, a refusal naming the field inside
    `admission`, and leaves the lead open); lead_closed goes out, then
    person_admitted, on the same person id."""
    lead = await uow.load(Lead, command.lead_id, what="lead", lock=True)
    status = lead_closure(lead.status, _priority(lead))
    check_lead_closure(
        outcome=command.outcome, has_admission=command.admission is not None, note=command.note
    )
    stay_id = uuid.uuid4() if command.admission is not None else None
    lead.status = status.value
    lead.outcome = command.outcome.value
    lead.closure_note = command.note
    lead.closed_at = uow.now
    lead.closed_by = uow.actor.subject
    await uow.publish(
        LeadClosedV1(
            person_id=lead.person_id,
            lead_id=lead.id,
            station_id=lead.station_id,
            closed_at=uow.now,
            outcome=command.outcome,
            admitted_person_id=lead.person_id if stay_id else None,
            stay_id=stay_id,
        )
    )
    if command.admission is not None:
        await admit(
            uow,
            command.admission,
            station_id=lead.station_id,
            person_id=lead.person_id,
            via_lead=True,
            within="admission.",
            stay_id=stay_id,
        )
        await uow.flush()  # the stay first: a flush orders its tables by class name, not by key
        lead.stay_id = stay_id
    return LeadView.model_validate(lead)


def _priority(lead: Lead) -> LeadPriority | None:
    return LeadPriority(lead.priority) if lead.priority else None
