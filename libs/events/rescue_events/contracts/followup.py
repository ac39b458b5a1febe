from __future__ import annotations

from datetime import date
from enum import StrEnum
from uuid import UUID

from pydantic import Field

from rescue_events.contracts.base import EventContract, StationId, Timestamp
from rescue_events.contracts.referral import PartnerType
from rescue_events.contracts.topics import FOLLOWUP_EVENTS
from rescue_events.registry import registry


@registry.event(
    "stabilisation_opened",
    1,
    topic=FOLLOWUP_EVENTS,
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
    topic=FOLLOWUP_EVENTS,
    summary="A revisit of a returned person was made, by visit or phone.",
)
class RevisitRecordedV1(EventContract):
    record_id: UUID
    sequence: int = Field(ge=1)
    mode: RevisitMode
    situation: Situation
    visited_on: date
    late: bool = Field(description="Made after its due date.")


@registry.event(
    "revisit_overdue",
    1,
    topic=FOLLOWUP_EVENTS,
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
    topic=FOLLOWUP_EVENTS,
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
    topic=FOLLOWUP_EVENTS,
    summary="A returned person entered the at-risk register (易流浪走失人员信息库).",
)
class AtRiskRegisteredV1(EventContract):
    jurisdiction_code: str | None
    reasons: list[str] = Field(min_length=1, examples=[["dementia"]])
    registered_at: Timestamp


@registry.event(
    "risk_assessed",
    1,
    topic=FOLLOWUP_EVENTS,
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
    topic=FOLLOWUP_EVENTS,
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
    topic=FOLLOWUP_EVENTS,
    summary="Followup ended: a stable year, settlement, or death.",
)
class StabilisationClosedV1(EventContract):
    record_id: UUID
    outcome: str = Field(examples=["stable_year", "settled", "deceased"])
    closed_at: Timestamp
    settlement: str | None = Field(
        default=None, description="For `settled`: how and by whom the person is provided for."
    )
