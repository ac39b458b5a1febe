from __future__ import annotations

from enum import StrEnum

from pydantic import Field

from rescue_events.contracts.base import EventContract, PersonCategory, StationId, Timestamp
from rescue_events.contracts.topics import INTAKE_EVENTS
from rescue_events.registry import registry


class ArrivalRoute(StrEnum):
    STREET_PATROL = "street_patrol"
    OWN_REQUEST = "own_request"
    HOTLINE_TIP = "hotline_tip"
    HOSPITAL_TRANSFER = "hospital_transfer"
    STATION_TRANSFER = "station_transfer"


class IdentityStatus(StrEnum):
    UNKNOWN = "unknown"
    CONFIRMED = "confirmed"


class Sex(StrEnum):
    MALE = "male"
    FEMALE = "female"
    UNKNOWN = "unknown"


@registry.event(
    "person_admitted",
    1,
    topic=INTAKE_EVENTS,
    summary="A station admitted a person; search, referral and others start from here.",
)
class PersonAdmittedV1(EventContract):
    station_id: StationId
    arrived_at: Timestamp = Field(description="When the person reached the station.")
    admitted_at: Timestamp
    arrival_route: ArrivalRoute
    identity_status: IdentityStatus
    sex: Sex
    estimated_age: int | None = Field(default=None, ge=0, le=120)
    stated_names: list[str] = Field(
        default_factory=list, description="Names as the person says them."
    )
    stated_places: list[str] = Field(
        default_factory=list, description="Places as the person says them."
    )
    dialect: str | None = None
    categories: list[PersonCategory] = Field(default_factory=list)
    full_name: str | None = Field(
        default=None, max_length=100, description="Only when the identity is already confirmed."
    )
    registered_home_admin_code: str | None = Field(
        default=None,
        pattern=r"^\d{6}(\d{3}(\d{3})?)?$",
        description="The registered home (户籍地), when known.",
    )
