from __future__ import annotations

from enum import StrEnum
from uuid import UUID

from pydantic import Field

from rescue_events.contracts.base import EventContract, StationId, Timestamp
from rescue_events.contracts.topics import (
    TRANSFER_COUNTED,
    TRANSFER_HANDOVERS,
    TRANSFER_NOTICES,
    TRANSFER_RECORDS,
    TRANSFER_REFUSALS,
)
from rescue_events.registry import registry


class ReceiverKind(StrEnum):
    FAMILY = "family"
    RECEIVING_STATION = "receiving_station"


@registry.event(
    "return_opened",
    1,
    topic=TRANSFER_COUNTED,
    summary="A return home opened; cross-province returns are escorted by the center station.",
)
class ReturnOpenedV1(EventContract):
    return_id: UUID
    station_id: StationId = Field(description="The station caring for the person.")
    escort_station_id: StationId = Field(description="The station that runs the escort.")
    cross_province: bool
    destination_province: str
    opened_at: Timestamp


@registry.event(
    "person_handed_over",
    1,
    topic=TRANSFER_HANDOVERS,
    summary="The person was handed over at home with a signed receipt; followup starts here.",
)
class PersonHandedOverV1(EventContract):
    return_id: UUID
    station_id: StationId
    escort_station_id: StationId
    handed_over_at: Timestamp
    receiver_kind: ReceiverKind
    received_by: str = Field(min_length=1, max_length=100)
    relation: str | None = Field(default=None, max_length=50, examples=["daughter"])
    destination_province: str
    home_address: str
    home_admin_code: str | None = None
    full_name: str | None = Field(
        default=None, max_length=100, description="So the home area knows whom to revisit."
    )


class TransportMode(StrEnum):
    STATION_VEHICLE = "station_vehicle"
    TRAIN = "train"
    FLIGHT = "flight"
    BUS = "bus"


@registry.event(
    "escort_planned",
    1,
    topic=TRANSFER_COUNTED,
    summary="The person was placed on an escort home (one event per person of the batch).",
)
class EscortPlannedV1(EventContract):
    escort_id: UUID
    return_id: UUID
    escort_station_id: StationId
    destination_province: str
    transport_mode: TransportMode
    planned_departure_at: Timestamp
    batch_size: int = Field(ge=1, description="How many persons travel on this escort.")


@registry.event(
    "escort_departed",
    1,
    topic=TRANSFER_COUNTED,
    summary="The escort carrying the person left the station.",
)
class EscortDepartedV1(EventContract):
    escort_id: UUID
    return_id: UUID
    departed_at: Timestamp


@registry.event(
    "escort_leg_completed",
    1,
    topic=TRANSFER_RECORDS,
    summary="The escort carrying the person reached the end of one leg of the itinerary.",
)
class EscortLegCompletedV1(EventContract):
    escort_id: UUID
    return_id: UUID
    sequence: int = Field(ge=1)
    origin: str
    destination: str
    arrived_at: Timestamp


@registry.event(
    "handover_refused",
    1,
    topic=TRANSFER_REFUSALS,
    summary="The home area refused to take the person back (流出地拒不接收); escalated.",
)
class HandoverRefusedV1(EventContract):
    return_id: UUID
    escalation_id: UUID
    station_id: StationId
    escort_station_id: StationId
    refused_at: Timestamp
    refused_by: str = Field(description="Who refused, e.g. the town government.")
    reason: str
    escalated_to: str = Field(description="The higher civil-affairs level now handling it.")


@registry.event(
    "escalation_resolved",
    1,
    topic=TRANSFER_RECORDS,
    summary="A refused return's escalation was resolved.",
)
class EscalationResolvedV1(EventContract):
    escalation_id: UUID
    return_id: UUID
    resolved_at: Timestamp
    outcome: str = Field(examples=["home_area_accepts", "settled_locally"])
    resolution: str


@registry.event(
    "return_notice_issued",
    1,
    topic=TRANSFER_NOTICES,
    summary="The written notice of the return went to the origin's civil-affairs department.",
)
class ReturnNoticeIssuedV1(EventContract):
    notice_id: UUID
    return_id: UUID
    addressed_to: str
    home_province: str
    home_admin_code: str | None = None
    issued_at: Timestamp
