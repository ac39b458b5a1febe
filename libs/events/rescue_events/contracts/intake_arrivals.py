"""Intake's events for arrivals that are not (yet) admissions: hotline leads,
refusals of help, hospital placements (medical first).

A lead, a refusal and a placement have no person record yet, so each mints the
person's id when it is made and uses it as ``person_id`` (the Kafka key). A lead
closed with an admission, and a placement ended by a discharge, admit the person
under that same id: ``person_admitted`` follows on the same key, in order.

Only what the network needs travels: never the caller's name or phone number,
nor a description of a person who refused help.
"""

from __future__ import annotations

from enum import StrEnum
from uuid import UUID

from pydantic import Field

from rescue_events.contracts.base import EventContract, StationId, Timestamp
from rescue_events.contracts.topics import INTAKE_EVENTS
from rescue_events.registry import registry


class SuspectedCondition(StrEnum):
    """Conditions that send a person to hospital before any admission
    (先救治,后救助, DOMAIN.md "The life of a case", 1)."""

    MENTAL_ILLNESS = "mental_illness"
    CRITICAL_ILLNESS = "critical_illness"
    INTOXICATION = "intoxication"  # drunkenness (醉酒) or other intoxication


class LeadPriority(StrEnum):
    URGENT = "urgent"
    NORMAL = "normal"
    NO_ACTION = "no_action"  # nobody goes out: the lead is closed from triage


class LeadOutcome(StrEnum):
    ADMITTED = "admitted"
    REFUSED_HELP = "refused_help"
    NOT_FOUND = "not_found"
    REFERRED_ELSEWHERE = "referred_elsewhere"
    DUPLICATE = "duplicate"


@registry.event(
    "lead_received",
    1,
    topic=INTAKE_EVENTS,
    summary="A tip to the 24-hour hotline (线索) about someone who may need help.",
)
class LeadReceivedV1(EventContract):
    lead_id: UUID
    station_id: StationId = Field(description="The station that acts on the lead.")
    received_at: Timestamp
    seen_at: Timestamp | None = Field(
        default=None, description="When the caller saw the person, if they said."
    )
    place: str = Field(description="Where the person was seen.")


@registry.event(
    "lead_closed",
    1,
    topic=INTAKE_EVENTS,
    summary="A hotline lead was closed with its outcome; `admitted` came with an admission.",
)
class LeadClosedV1(EventContract):
    lead_id: UUID
    station_id: StationId
    closed_at: Timestamp
    outcome: LeadOutcome
    admitted_person_id: UUID | None = Field(
        default=None,
        description="For `admitted`: the person admitted (person_admitted follows on this key).",
    )
    stay_id: UUID | None = Field(default=None, description="For `admitted`: the stay it began.")


@registry.event(
    "help_refused",
    1,
    topic=INTAKE_EVENTS,
    summary="A person refused help and was advised (劝导记录); no admission was made.",
)
class HelpRefusedV1(EventContract):
    refusal_id: UUID
    station_id: StationId
    found_place: str
    found_at: Timestamp
    escorting_unit: str | None = Field(
        default=None, description="The police or city-management unit present, if any."
    )


@registry.event(
    "hospital_placement_made",
    1,
    topic=INTAKE_EVENTS,
    summary="Medical first: a person was placed in hospital before any admission.",
)
class HospitalPlacementMadeV1(EventContract):
    placement_id: UUID
    station_id: StationId = Field(description="The placing station, which admits on discharge.")
    hospital: str
    conditions: list[SuspectedCondition] = Field(min_length=1)
    placed_at: Timestamp
    escorting_unit: str | None = None


@registry.event(
    "hospital_placement_ended",
    1,
    topic=INTAKE_EVENTS,
    summary="The hospital discharged a placed person; person_admitted follows at the station.",
)
class HospitalPlacementEndedV1(EventContract):
    placement_id: UUID
    station_id: StationId
    hospital: str
    discharged_at: Timestamp
    stay_id: UUID = Field(description="The stay the admission on discharge began.")


@registry.event(
    "lead_triaged",
    1,
    topic=INTAKE_EVENTS,
    summary="A hotline lead was judged: urgent, normal, or no action needed.",
)
class LeadTriagedV1(EventContract):
    lead_id: UUID
    station_id: StationId
    priority: str = Field(examples=["urgent", "normal", "no_action"])
    triaged_at: Timestamp


@registry.event(
    "lead_assigned",
    1,
    topic=INTAKE_EVENTS,
    summary="Someone was sent out on a hotline lead (a new assignment replaces the last).",
)
class LeadAssignedV1(EventContract):
    lead_id: UUID
    station_id: StationId
    assigned_at: Timestamp


@registry.event(
    "hospital_screening_recorded",
    1,
    topic=INTAKE_EVENTS,
    summary="Identity screening was done at the hospital where the person is placed.",
)
class HospitalScreeningRecordedV1(EventContract):
    placement_id: UUID
    station_id: StationId
    screened_at: Timestamp
    name_found: bool = Field(description="Whether the screening found a name (not the name).")
