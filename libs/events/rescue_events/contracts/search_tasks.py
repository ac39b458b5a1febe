"""Search events: a task of the search missed its deadline."""

from __future__ import annotations

from uuid import UUID

from pydantic import Field

from rescue_events.contracts.base import EventContract, StationId, Timestamp
from rescue_events.contracts.topics import SEARCH_RECORDS
from rescue_events.registry import registry


@registry.event(
    "search_task_overdue",
    1,
    topic=SEARCH_RECORDS,
    summary=(
        "A task of a search case is past its deadline (the 24-hour family-search notice, "
        "the police identity check, the DNA sample request): raised once per task."
    ),
)
class SearchTaskOverdueV1(EventContract):
    case_id: UUID
    task_id: UUID
    station_id: StationId
    kind: str = Field(examples=["family_search_notice", "police_check", "dna_sample"])
    due_at: Timestamp
    noticed_at: Timestamp = Field(
        description="When the sweep found it late (after downtime, later)."
    )
