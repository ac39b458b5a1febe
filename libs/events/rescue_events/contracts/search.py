from __future__ import annotations

from enum import StrEnum
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field

from rescue_events.contracts.base import EventContract, StationId, Timestamp
from rescue_events.contracts.topics import (
    SEARCH_COUNTED,
    SEARCH_EARLIER_STAYS,
    SEARCH_IDENTITY,
    SEARCH_RECORDS,
    SEARCH_REFUSAL_FACES,
)
from rescue_events.registry import registry


class IdentificationMethod(StrEnum):
    FAMILY_SEARCH_NOTICE = "family_search_notice"
    DNA = "dna"
    FACE_COMPARISON = "face_comparison"
    POLICE_CHECK = "police_check"
    CLUES = "clues"
    MISSING_PERSON_REPORT = "missing_person_report"
    SELF_REPORTED = "self_reported"


@registry.event(
    "search_case_opened",
    1,
    topic=SEARCH_COUNTED,
    summary="An unidentified person's search case opened, with its family-search notice deadline.",
)
class SearchCaseOpenedV1(EventContract):
    case_id: UUID
    station_id: StationId
    opened_at: Timestamp
    notice_due_at: Timestamp = Field(
        description="The family-search notice must be published by then: 24 hours from arrival."
    )


@registry.event(
    "identity_confirmed",
    1,
    topic=SEARCH_IDENTITY,
    summary="Staff confirmed who the person is and where home is.",
)
class IdentityConfirmedV1(EventContract):
    case_id: UUID | None = Field(default=None, description="The search case, if one was open.")
    station_id: StationId = Field(description="The station caring for the person.")
    confirmed_at: Timestamp
    confirmed_by: str = Field(description="Subject of the staff member who confirmed.")
    method: IdentificationMethod
    full_name: str = Field(min_length=1, max_length=100)
    home_province: str = Field(min_length=1, max_length=50, examples=["河南省"])
    home_address: str = Field(min_length=1, max_length=300)
    home_admin_code: str | None = Field(
        default=None,
        pattern=r"^\d{6}(\d{3}(\d{3})?)?$",
        description="Administrative division code of the home (6, 9 or 12 digits).",
    )
    cross_province: bool = Field(
        description="Whether home lies in another province than the caring station."
    )
    evidence_kinds: list[str] = Field(
        default_factory=list,
        description=(
            "The evidence the identity rests on: self_report_verified, police_check, "
            "dna_reverified, face_match_with_family_confirmation (empty from older producers)."
        ),
        examples=[["police_check"]],
    )
    missing_person_report_id: UUID | None = Field(
        default=None, description="The family's missing-person report, when one was matched."
    )


@registry.event(
    "earlier_stay_recognised",
    1,
    topic=SEARCH_EARLIER_STAYS,
    summary=(
        "The admitted person is the same as an earlier person of the network's records "
        "(a face or name match accepted by a search specialist)."
    ),
)
class EarlierStayRecognisedV1(EventContract):
    earlier_person_id: UUID = Field(description="The person of the earlier stay.")
    station_id: StationId = Field(description="The station caring for the person now.")
    method: IdentificationMethod
    similarity: float | None = Field(default=None, ge=0, le=1)
    recognised_by: str
    recognised_at: Timestamp


class RefusalFaceKind(StrEnum):
    PERSON = "person"  # a person of the network's records (an admission's face)
    REFUSAL = "refusal"  # the person of an earlier refusal's face


class RefusalFaceCandidate(BaseModel):
    """Someone whose face is like the refusal photo's: a suggestion for staff."""

    model_config = ConfigDict(frozen=True, extra="ignore")

    person_id: UUID = Field(description="The person record's id, or the earlier refusal's person.")
    similarity: float = Field(ge=0, le=1, description="0..1; 0.5 is the usual same-person line.")
    station_id: StationId = Field(description="Where that face was taken.")
    kind: RefusalFaceKind
    refusal_id: UUID | None = Field(
        default=None, description="For `refusal`: the earlier refusal whose face it is."
    )


@registry.event(
    "refusal_face_recognised",
    1,
    topic=SEARCH_REFUSAL_FACES,
    summary=(
        "A refusal's face photo (refusal_photo_shared) was compared with every face of the "
        "network: the persons and earlier refusals it looks like, best first, for staff to "
        "link or not (possibly none; `reason` when no single face was found)."
    ),
)
class RefusalFaceRecognisedV1(EventContract):
    refusal_id: UUID
    photo_id: UUID = Field(description="Intake's id of the refusal's photo.")
    station_id: StationId = Field(description="The station that recorded the refusal.")
    candidates: list[RefusalFaceCandidate] = Field(
        default_factory=list,
        description="Best first. A protected person is only ever suggested to her own station.",
    )
    reason: str | None = Field(
        default=None,
        max_length=500,
        description="Why the photo was not compared: no face, several faces, no image.",
    )
    recognised_at: Timestamp


class CaseMoveReason(StrEnum):
    TRANSFER = "transfer"  # a transfer to a station of the network (station_transfer)
    READMISSION = "readmission"  # the person found again and admitted at another station


@registry.event(
    "search_case_moved",
    1,
    topic=SEARCH_RECORDS,
    summary=(
        "The person's one search case moved to the station that has the person now (an "
        "in-network transfer or a readmission elsewhere): that station works it from now "
        "on, the earlier one keeps reading it, and notices still up are re-issued naming it."
    ),
)
class SearchCaseMovedV1(EventContract):
    case_id: UUID
    from_station_id: StationId = Field(description="The station that had the case until now.")
    to_station_id: StationId = Field(description="The station that has the person now.")
    reason: CaseMoveReason
    moved_at: Timestamp = Field(description="When the person came to the new station.")
