"""Search events: a missed deadline or a long stay escalated to the center (督办)."""

from __future__ import annotations

from uuid import UUID

from pydantic import Field

from rescue_events.contracts.base import EventContract, StationId, Timestamp
from rescue_events.contracts.topics import SEARCH_ESCALATIONS
from rescue_events.registry import registry


@registry.event(
    "deadline_escalated",
    1,
    topic=SEARCH_ESCALATIONS,
    summary=(
        "A missed search deadline (notice, police check, DNA sample) or a long stay (in "
        "station or in hospital) was put on the center's escalation list: once per deadline."
    ),
)
class DeadlineEscalatedV1(EventContract):
    escalation_id: UUID
    kind: str = Field(
        examples=[
            "notice_overdue",
            "police_check_overdue",
            "dna_overdue",
            "long_stay",
            "long_hospital_stay",
        ]
    )
    station_id: StationId = Field(description="The station whose deadline it was.")
    case_id: UUID | None = Field(default=None, description="The search case, if there is one.")
    source_id: UUID = Field(
        description="What went late: the search task, the stay or the hospital placement."
    )
    due_at: Timestamp = Field(description="The deadline missed, or when the long stay was reached.")
    escalated_at: Timestamp
