"""Intake's events for arrivals that are not (yet) admissions: hotline leads,
refusals of help, hospital placements (medical first).

A lead, a refusal and a placement have no person record yet, so each mints the
person's id when it is made and uses it as ``person_id`` (the Kafka key). A lead
closed with an admission, and a placement ended by a discharge, admit the person
under that same id: ``person_admitted`` follows on the same key, in order.

Only what the network needs travels: never the caller's name or phone number,
nor a description of a person who refused help (their face photo goes to search
alone, on ``refusal_photo_shared``, to be recognised).
"""

from __future__ import annotations

from enum import StrEnum
from uuid import UUID

from pydantic import Field

from rescue_events.contracts.base import EventContract, StationId, Timestamp
from rescue_events.contracts.intake_care import SHARED_PHOTO_MAX_BYTES
from rescue_events.contracts.topics import (
    INTAKE_COUNTED,
    INTAKE_RECORDS,
    INTAKE_REFUSALS,
    INTAKE_STAYS,
)
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
    topic=INTAKE_COUNTED,
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
    topic=INTAKE_COUNTED,
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
    topic=INTAKE_COUNTED,
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
    person_linked: bool = Field(
        default=False,
        description="Staff named a known person (a record of the network, or a person met "
        "in earlier refusals): person_id is theirs. Otherwise person_id was minted for this "
        "refusal, and refusal_linked follows if it is linked later.",
    )
    refusal_count: int | None = Field(
        default=None,
        ge=1,
        description="For a linked refusal: the person's refusals in the network, this one "
        "included (repeated refusals, e.g. every night of a cold spell).",
    )


@registry.event(
    "refusal_linked",
    1,
    topic=INTAKE_RECORDS,
    summary="Staff linked a refusal of help, recorded under another id, to a known person: "
    "what was keyed by previous_person_id is the same person.",
)
class RefusalLinkedV1(EventContract):
    refusal_id: UUID
    station_id: StationId = Field(description="The station that recorded the refusal.")
    previous_person_id: UUID = Field(
        description="The id the refusal was under until now (help_refused's key, or an "
        "earlier link's person): consumers merge what they keyed by it."
    )
    linked_at: Timestamp
    refusal_count: int = Field(
        ge=1, description="The person's refusals in the network now, this one included."
    )


class RefusalPhotoWithheld(StrEnum):
    """Why a refusal's face photo was shared without its image."""

    UNREADABLE = "unreadable"  # too large for the broker, and no smaller copy could be made


@registry.event(
    "refusal_photo_shared",
    1,
    topic=INTAKE_REFUSALS,
    summary=(
        "A face photo of a person who refused help, for search to compare with the "
        "network's faces (refusal_face_recognised answers): the image travels (base64) "
        "when it fits the broker, otherwise `withheld` says why."
    ),
)
class RefusalPhotoSharedV1(EventContract):
    photo_id: UUID = Field(description="Intake's id of the refusal's photo.")
    refusal_id: UUID
    station_id: StationId = Field(description="The station that recorded the refusal.")
    sha256: str = Field(pattern=r"^[0-9a-f]{64}$", description="Of the image intake keeps.")
    taken_at: Timestamp
    image: str | None = Field(
        default=None,
        max_length=4 * -(-SHARED_PHOTO_MAX_BYTES // 3),
        description="The image, base64 (standard alphabet, padded); absent when withheld.",
    )
    resized_to_fit: bool = Field(
        default=False,
        description="The kept photo was larger than the broker allows: `image` is a smaller "
        "JPEG copy of it (sha256 still describes the kept photo).",
    )
    withheld: RefusalPhotoWithheld | None = Field(
        default=None, description="Why the image is absent: `unreadable`."
    )


@registry.event(
    "hospital_placement_made",
    1,
    topic=INTAKE_STAYS,
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
    topic=INTAKE_RECORDS,
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
    topic=INTAKE_RECORDS,
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
    topic=INTAKE_RECORDS,
    summary="Someone was sent out on a hotline lead (a new assignment replaces the last).",
)
class LeadAssignedV1(EventContract):
    lead_id: UUID
    station_id: StationId
    assigned_at: Timestamp


@registry.event(
    "hospital_screening_recorded",
    1,
    topic=INTAKE_RECORDS,
    summary="Identity screening was done at the hospital where the person is placed.",
)
class HospitalScreeningRecordedV1(EventContract):
    placement_id: UUID
    station_id: StationId
    screened_at: Timestamp
    name_found: bool = Field(description="Whether the screening found a name (not the name).")


@registry.event(
    "long_hospital_stay_reached",
    1,
    topic=INTAKE_STAYS,
    summary=(
        "A hospital placement has been open longer than the station's limit (30 days by "
        "default): raised once per placement, for the center to look into."
    ),
)
class LongHospitalStayReachedV1(EventContract):
    placement_id: UUID
    station_id: StationId = Field(description="The placing station.")
    hospital: str
    placed_at: Timestamp
    reached_at: Timestamp = Field(description="When the sweep found the stay long.")
    days: int = Field(ge=1, description="The limit in days the placement went past.")
