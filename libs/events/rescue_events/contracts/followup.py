from __future__ import annotations

from datetime import date
from enum import StrEnum
from uuid import UUID

from pydantic import Field

from rescue_events.contracts.base import EventContract, PersonCategory, StationId, Timestamp
from rescue_events.contracts.intake import Sex
from rescue_events.contracts.referral import PartnerType
from rescue_events.contracts.topics import (
    FOLLOWUP_COUNTED,
    FOLLOWUP_HELP,
    FOLLOWUP_RECORDS,
    INBOUND_RETURNS,
)
from rescue_events.registry import registry


@registry.event(
    "stabilisation_opened",
    1,
    topic=FOLLOWUP_COUNTED,
    summary="Return stabilisation began: revisits at least every two months for a year.",
)
class StabilisationOpenedV1(EventContract):
    record_id: UUID
    home_province: str
    home_admin_code: str | None = None
    opened_at: Timestamp
    revisit_due_dates: list[date] = Field(min_length=6)


class RevisitMode(StrEnum):
    VISIT = "visit"
    PHONE = "phone"


class Situation(StrEnum):
    """What a revisit found (回访情况)."""

    STABLE = "stable"
    LIVING_DIFFICULTY = "living_difficulty"
    WORK_DIFFICULTY = "work_difficulty"
    MEDICAL_DIFFICULTY = "medical_difficulty"
    LEFT_HOME_AGAIN = "left_home_again"
    DECEASED = "deceased"


class RiskLevel(StrEnum):
    LOW = "low"
    MEDIUM = "medium"
    HIGH = "high"


@registry.event(
    "revisit_recorded",
    1,
    topic=FOLLOWUP_COUNTED,
    summary="A revisit of a returned person was made, by visit or phone.",
)
class RevisitRecordedV1(EventContract):
    record_id: UUID
    sequence: int = Field(ge=1)
    mode: RevisitMode
    situation: Situation
    visited_on: date
    late: bool = Field(description="Made after its due date.")
    recorded_by_role: str | None = Field(
        default=None,
        description="Who recorded it: `town_official` (the town or village) or a station role.",
        examples=["town_official", "station_staff"],
    )


@registry.event(
    "revisit_overdue",
    1,
    topic=FOLLOWUP_COUNTED,
    summary=(
        "A revisit was missed: first to the origin station and the home town (`overdue`), "
        "then to the center (`escalated`). Each level is published once."
    ),
)
class RevisitOverdueV1(EventContract):
    record_id: UUID
    sequence: int = Field(ge=1)
    due_on: date
    station_id: StationId = Field(description="The station that followed the person up.")
    jurisdiction_code: str | None = Field(description="The town or county doing the revisit.")
    level: str = Field(examples=["overdue", "escalated"])
    escalated_to: str


@registry.event(
    "help_task_opened",
    1,
    topic=FOLLOWUP_HELP,
    summary="A revisit found a difficulty; a help task (and possibly a referral) follows.",
)
class HelpTaskOpenedV1(EventContract):
    record_id: UUID
    task_id: UUID
    difficulty: Situation
    refer_to: PartnerType | None = None
    jurisdiction_code: str | None = None


@registry.event(
    "at_risk_registered",
    1,
    topic=FOLLOWUP_RECORDS,
    summary="A returned person entered the at-risk register (易流浪走失人员信息库).",
)
class AtRiskRegisteredV1(EventContract):
    jurisdiction_code: str | None
    reasons: list[str] = Field(min_length=1, examples=[["dementia"]])
    registered_at: Timestamp


@registry.event(
    "risk_assessed",
    1,
    topic=FOLLOWUP_RECORDS,
    summary="The center assessed a returned person's risk of wandering again.",
)
class RiskAssessedV1(EventContract):
    record_id: UUID
    level: RiskLevel
    reasons: list[str] = Field(min_length=1)
    assessed_by: str
    assessed_at: Timestamp


@registry.event(
    "repeat_wandering_flagged",
    1,
    topic=FOLLOWUP_COUNTED,
    summary=(
        "A person under followup or in the ledger was admitted again (屡送屡返); "
        "for the origin and the admitting station."
    ),
)
class RepeatWanderingFlaggedV1(EventContract):
    earlier_person_id: UUID = Field(description="The person as the ledger knows them.")
    record_id: UUID
    origin_station_id: StationId
    admitting_station_id: StationId
    basis: str = Field(examples=["same_person", "identity", "face_comparison"])
    flagged_at: Timestamp


@registry.event(
    "stabilisation_closed",
    1,
    topic=FOLLOWUP_RECORDS,
    summary="Followup ended: a stable year, settlement, or death.",
)
class StabilisationClosedV1(EventContract):
    record_id: UUID
    outcome: str = Field(examples=["stable_year", "settled", "deceased"])
    closed_at: Timestamp
    settlement: str | None = Field(
        default=None, description="For `settled`: how and by whom the person is provided for."
    )


@registry.event(
    "inbound_return_notified",
    1,
    topic=INBOUND_RETURNS,
    summary=(
        "Another region's station escorts a person home to this region (返乡通知): followup "
        "opens the person's stabilisation and revisits here. Published by partner systems."
    ),
)
class InboundReturnNotifiedV1(EventContract):
    # The person has no id of this network yet: followup mints one.
    person_id: UUID | None = Field(
        default=None, description="Absent: followup mints the person's id in this network."
    )
    sending_station: str = Field(
        min_length=1, max_length=100, examples=["滨州市救助管理站"], description="Its name."
    )
    sending_region: str = Field(
        min_length=1, max_length=100, examples=["山东省滨州市"], description="Province and city."
    )
    reference: str = Field(
        min_length=1,
        max_length=64,
        description="The sending station's reference of the notice: one notice, one return.",
    )
    full_name: str = Field(min_length=1, max_length=100)
    sex: Sex
    birth_year: int | None = Field(default=None, ge=1900, le=2100)
    age: int | None = Field(default=None, ge=0, le=130)
    national_id_number: str | None = Field(
        default=None,
        min_length=15,
        max_length=30,
        description="公民身份号码 (GB 11643), when known; stored encrypted, shown masked.",
    )
    home_province: str = Field(min_length=1, max_length=50)
    home_address: str = Field(min_length=1, max_length=300)
    home_admin_code: str = Field(
        pattern=r"^\d{6}(\d{3}(\d{3})?)?$",
        description="The registered home: a town (9 digits) or village (12) code, or a county (6).",
    )
    expected_arrival_on: date = Field(description="The day the person is expected home.")
    escort: str | None = Field(
        default=None, max_length=300, description="Who escorts the person, how, and a contact."
    )
    categories: list[PersonCategory] = Field(
        default_factory=list, description="What the sending station found (dementia, …)."
    )
    notified_at: Timestamp
