from __future__ import annotations

from enum import StrEnum
from uuid import UUID

from pydantic import Field

from rescue_events.contracts.base import EventContract, PersonCategory, StationId, Timestamp
from rescue_events.contracts.topics import INTAKE_INCIDENTS, INTAKE_STAYS
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
    topic=INTAKE_STAYS,
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
        default=None,
        max_length=100,
        description="Only when search confirmed the identity (a readmitted person); a name "
        "given at intake is a claim and comes among the stated_names.",
    )
    registered_home_admin_code: str | None = Field(
        default=None,
        pattern=r"^\d{6}(\d{3}(\d{3})?)?$",
        description="The registered home (户籍地), when known.",
    )
    stay_id: UUID | None = Field(default=None, description="This stay; a person may have several.")
    stay_sequence: int = Field(default=1, ge=1, description="2 or more: the person came back.")


class DischargeReason(StrEnum):
    RETURNED_HOME = "returned_home"
    LEFT = "left"  # left of their own will
    TRANSFERRED = "transferred"  # to a hospital, an institution or another station
    SETTLED = "settled"  # long-stay settlement (落户安置)
    DIED = "died"


class IncidentKind(StrEnum):
    DEATH = "death"
    MISSING = "missing"  # 走失
    INJURY = "injury"


@registry.event(
    "person_discharged",
    1,
    topic=INTAKE_STAYS,
    summary="A stay ended, with its reason.",
)
class PersonDischargedV1(EventContract):
    stay_id: UUID
    station_id: StationId
    discharged_at: Timestamp
    reason: DischargeReason
    transferred_to: str | None = Field(default=None, description="For `transferred`: where.")
    transferred_to_station_id: StationId | None = Field(
        default=None,
        description="For `transferred` to a station of the network: that station, which "
        "readmits the same person (a new stay, person_admitted with stay_sequence 2 or more).",
    )


@registry.event(
    "incident_reported",
    1,
    topic=INTAKE_INCIDENTS,
    summary="A death, a person gone missing or an injury, for the civil-affairs bureau at once.",
)
class IncidentReportedV1(EventContract):
    incident_id: UUID
    stay_id: UUID
    station_id: StationId
    kind: IncidentKind
    occurred_at: Timestamp
    description: str


@registry.event(
    "long_stay_reached",
    1,
    topic=INTAKE_STAYS,
    summary="Still unidentified three months after arrival: the settlement procedure starts.",
)
class LongStayReachedV1(EventContract):
    stay_id: UUID
    station_id: StationId
    arrived_at: Timestamp
    reached_at: Timestamp
