"""Search events: evidence — clues recorded, identity candidates proposed and rejected.

Missing-person reports themselves travel on no event: they are about nobody the
network knows yet (events are keyed by person_id), and they hold a family's
contact details. Names, places and national ID numbers stay in search.
"""

from __future__ import annotations

from enum import StrEnum
from uuid import UUID

from pydantic import Field

from rescue_events.contracts.base import EventContract, StationId, Timestamp
from rescue_events.contracts.topics import SEARCH_RECORDS
from rescue_events.registry import registry


class CluePart(StrEnum):
    """The parts of the "520 method" a clue holds."""

    OBSERVED = "observed"  # 望
    DIALECT_HEARD = "dialect_heard"  # 闻
    PERSON_SAID = "person_said"  # 问
    CHANGES = "changes"  # 切
    GROUP_JUDGMENT = "group_judgment"  # 断


@registry.event(
    "clue_recorded",
    1,
    topic=SEARCH_RECORDS,
    summary="A clue from conversation with the person (the 520 method) was recorded.",
)
class ClueRecordedV1(EventContract):
    case_id: UUID
    clue_id: UUID
    station_id: StationId
    parts: list[CluePart] = Field(description="Which parts of the 520 record the clue holds.")
    noted_at: Timestamp = Field(description="When the conversation or observation took place.")
    recorded_by: str


@registry.event(
    "identity_candidate_proposed",
    1,
    topic=SEARCH_RECORDS,
    summary=(
        "The matching engine found a family's missing-person report that may be this "
        "person; it waits in the review queue (nothing is merged automatically)."
    ),
)
class IdentityCandidateProposedV1(EventContract):
    case_id: UUID
    candidate_id: UUID
    missing_person_report_id: UUID
    station_id: StationId = Field(description="The station caring for the person.")
    report_station_id: StationId = Field(description="The station the family reported to.")
    score: float = Field(ge=0, le=1)
    signals: list[str] = Field(
        default_factory=list,
        description="What met, as codes: name, name_in_clues, place, dialect, sex, age.",
        examples=[["name", "place", "sex"]],
    )
    proposed_at: Timestamp


@registry.event(
    "identity_candidate_rejected",
    1,
    topic=SEARCH_RECORDS,
    summary="A reviewer rejected a candidate: the report and the person are not the same.",
)
class IdentityCandidateRejectedV1(EventContract):
    case_id: UUID
    candidate_id: UUID
    missing_person_report_id: UUID
    station_id: StationId
    rejected_by: str
    rejected_at: Timestamp
