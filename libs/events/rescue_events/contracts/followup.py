from __future__ import annotations

from datetime import date
from uuid import UUID

from pydantic import Field

from rescue_events.contracts.base import EventContract, Timestamp
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
