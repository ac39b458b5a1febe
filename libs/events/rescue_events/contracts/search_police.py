"""Search events: police partners (快响快查快反 identity checks, 打拐DNA samples).

Three groups:
- requests to the police, on the police partners' topic, with only what the police
  need (never categories, whether a person is a domestic-violence victim, or such a
  victim's whereabouts: the station named is then the center);
- the police's answers, on the partners' answers topic;
- search's own facts about them, on search's topic.
"""

from __future__ import annotations

from enum import StrEnum
from uuid import UUID

from pydantic import Field

from rescue_events.contracts.base import EventContract, StationId, Timestamp
from rescue_events.contracts.intake import Sex
from rescue_events.contracts.topics import (
    PARTNER_ANSWERS,
    PARTNER_TOPICS,
    SEARCH_COUNTED,
    SEARCH_RECORDS,
)
from rescue_events.registry import registry


class PoliceCheckResult(StrEnum):
    IDENTIFIED = "identified"  # face recognition / population database found the person
    NO_MATCH = "no_match"
    INCONCLUSIVE = "inconclusive"  # looked, but cannot say: e.g. a weak face match
    # Cannot be verified at this agency's level (the person is beyond its population
    # data): passed up to the next level (逐级上报), county → city → province.
    UNVERIFIABLE = "unverifiable"


class DnaResult(StrEnum):
    HIT = "hit"  # the national anti-trafficking DNA database matched a record
    NO_MATCH = "no_match"
    UNUSABLE = "unusable"  # the sample could not be profiled: take another


def asked_agency():
    return Field(
        default=None,
        min_length=1,
        max_length=64,
        description="The police agency asked: only its answer is taken (a partner token's "
        "station_id, the answer's agency_id).",
        examples=["gushi-police"],
    )


def contact_station():
    return Field(
        description=(
            "The station the police deal with about this person: the person's station, "
            "or the center when the person's whereabouts are protected."
        ),
        examples=["gushi", "center"],
    )


# ---- requests to the police (topic rescue.partner.police) -------------------


@registry.event(
    "police_identity_check_requested",
    1,
    topic=PARTNER_TOPICS["police"],
    summary="A station asks the police to identify an unidentified person (face, population data).",
)
class PoliceIdentityCheckRequestedV1(EventContract):
    request_id: UUID = Field(description="Answer with this id.")
    case_id: UUID
    station_id: StationId = contact_station()
    agency_id: str | None = asked_agency()
    sex: Sex
    estimated_age: int | None = Field(default=None, ge=0, le=120)
    stated_names: list[str] = Field(
        default_factory=list, description="Names as the person says them."
    )
    description: str | None = Field(
        default=None, max_length=2000, description="Physical description for the check."
    )
    face_photo_ref: str | None = Field(
        default=None,
        max_length=300,
        description="Deprecated (free text): use face_photo_id. Kept for older readers.",
        json_schema_extra={"deprecated": True},
    )
    face_photo_id: UUID | None = Field(
        default=None,
        description="Intake's face photo of the person, fetched by the agency through a "
        "short-lived signed link (GET intake's /partner/photos/{photo_id}); never the image.",
    )
    escalates_request_id: UUID | None = Field(
        default=None,
        description="Set when this request passes up (逐级上报) a check the agency below "
        "answered `unverifiable`: that check's request id.",
    )
    requested_at: Timestamp


@registry.event(
    "police_dna_sample_submitted",
    1,
    topic=PARTNER_TOPICS["police"],
    summary="A DNA sample for the national anti-trafficking DNA database (打拐DNA数据库).",
)
class PoliceDnaSampleSubmittedV1(EventContract):
    sample_id: UUID = Field(description="Report the result with this id.")
    case_id: UUID
    station_id: StationId = contact_station()
    agency_id: str | None = asked_agency()
    sample_ref: str = Field(max_length=100, description="The sample's label or barcode.")
    taken_at: Timestamp
    taken_by: str = Field(max_length=200)
    submitted_at: Timestamp
    reverifies_sample_id: UUID | None = Field(
        default=None,
        description="Set when this fresh sample is to re-verify an earlier sample's hit.",
    )


# ---- the police's answers (topic rescue.partner.answers) --------------------


@registry.event(
    "police_identity_check_answer",
    1,
    topic=PARTNER_ANSWERS,
    summary="A police agency answers an identity check.",
)
class PoliceIdentityCheckAnswerV1(EventContract):
    request_id: UUID
    agency_id: str = Field(min_length=1, max_length=64, examples=["xinyang-police"])
    result: PoliceCheckResult
    full_name: str | None = Field(default=None, max_length=100)
    id_record_ref: str | None = Field(
        default=None, max_length=100, description="The population-database record found."
    )
    home_province: str | None = Field(default=None, max_length=50)
    home_address: str | None = Field(default=None, max_length=300)
    note: str | None = Field(default=None, max_length=2000)
    answered_at: Timestamp


@registry.event(
    "police_dna_result",
    1,
    topic=PARTNER_ANSWERS,
    summary="A police agency reports the DNA database result of a sample.",
)
class PoliceDnaResultV1(EventContract):
    sample_id: UUID
    agency_id: str = Field(min_length=1, max_length=64, examples=["xinyang-police"])
    result: DnaResult
    matched_record_id: str | None = Field(
        default=None, max_length=100, description="The matched database record; with a hit."
    )
    note: str | None = Field(default=None, max_length=2000)
    reported_at: Timestamp


# ---- search's own facts (rescue.search.records; DNA hits reverified: .counted) ----


@registry.event(
    "police_check_answered",
    1,
    topic=SEARCH_RECORDS,
    summary="The police answered an identity check; with the response time.",
)
class PoliceCheckAnsweredV1(EventContract):
    case_id: UUID
    request_id: UUID
    station_id: StationId
    agency_id: str
    result: PoliceCheckResult
    requested_at: Timestamp
    answered_at: Timestamp
    response_seconds: float = Field(ge=0, description="answered_at − requested_at.")


@registry.event(
    "dna_result_reported",
    1,
    topic=SEARCH_RECORDS,
    summary="The police reported a DNA sample's result; a hit stays unverified until re-verified.",
)
class DnaResultReportedV1(EventContract):
    case_id: UUID
    sample_id: UUID
    station_id: StationId
    agency_id: str
    result: DnaResult
    sample_status: str = Field(
        examples=["hit_unverified", "no_match", "unusable", "confirms_hit"],
        description="The sample's status after the result.",
    )
    reverifies_sample_id: UUID | None = None
    submitted_at: Timestamp
    reported_at: Timestamp
    response_seconds: float = Field(ge=0, description="reported_at − submitted_at.")


@registry.event(
    "dna_hit_reverified",
    1,
    topic=SEARCH_COUNTED,
    summary="A fresh sample matched the same record as an earlier DNA hit: the hit is trusted.",
)
class DnaHitReverifiedV1(EventContract):
    case_id: UUID
    station_id: StationId
    hit_sample_id: UUID
    fresh_sample_id: UUID
    reverified_at: Timestamp


@registry.event(
    "dna_hit_not_confirmed",
    1,
    topic=SEARCH_RECORDS,
    summary="A fresh sample did not match the earlier DNA hit's record: the hit is not trusted.",
)
class DnaHitNotConfirmedV1(EventContract):
    case_id: UUID
    station_id: StationId
    hit_sample_id: UUID
    fresh_sample_id: UUID
    fresh_result: DnaResult
    decided_at: Timestamp


@registry.event(
    "police_check_escalated",
    1,
    topic=SEARCH_RECORDS,
    summary="An identity check answered `unverifiable` was passed up to the next police level.",
)
class PoliceCheckEscalatedV1(EventContract):
    case_id: UUID
    station_id: StationId
    request_id: UUID = Field(description="The check answered `unverifiable`.")
    from_agency_id: str
    escalated_request_id: UUID = Field(description="The new request, to the next level.")
    to_agency_id: str
    escalated_at: Timestamp


@registry.event(
    "police_check_unverifiable_at_top",
    1,
    topic=SEARCH_RECORDS,
    summary="The highest police level asked could not verify the person: the check is "
    "flagged for the station, the search goes on.",
)
class PoliceCheckUnverifiableAtTopV1(EventContract):
    case_id: UUID
    station_id: StationId
    request_id: UUID
    agency_id: str
    flagged_at: Timestamp
