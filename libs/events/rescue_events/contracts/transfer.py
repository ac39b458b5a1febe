from __future__ import annotations

from enum import StrEnum
from uuid import UUID

from pydantic import Field

from rescue_events.contracts.base import EventContract, StationId, Timestamp
from rescue_events.contracts.topics import TRANSFER_EVENTS
from rescue_events.registry import registry


class ReceiverKind(StrEnum):
    FAMILY = "family"
    RECEIVING_STATION = "receiving_station"


@registry.event(
    "return_opened",
    1,
    topic=TRANSFER_EVENTS,
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
    topic=TRANSFER_EVENTS,
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
