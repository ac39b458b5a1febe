"""What transfer's API answers with (API-out models)."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from pydantic import BaseModel, Field

from transfer.tables import Escalation, Escort, EscortLeg, Return


class ReturnView(BaseModel):
    id: uuid.UUID
    person_id: uuid.UUID
    station_id: str = Field(description="The station caring for the person.")
    escort_station_id: str = Field(description="The station running the escort.")
    cross_province: bool
    status: str
    full_name: str
    destination_province: str
    home_address: str
    home_admin_code: str | None
    opened_at: datetime
    opened_by: str
    fit_to_travel: bool | None
    medical_escort_required: bool
    fitness_note: str | None
    escort_id: uuid.UUID | None
    handed_over_at: datetime | None
    receiver_kind: str | None
    received_by: str | None
    relation: str | None
    handover_place: str | None


class LegView(BaseModel):
    sequence: int
    origin: str
    destination: str
    mode: str
    planned_departure_at: datetime
    planned_arrival_at: datetime | None
    arrived_at: datetime | None


class EscortView(BaseModel):
    id: uuid.UUID
    escort_station_id: str
    destination_province: str
    status: str
    transport_mode: str
    vehicle: str | None
    tickets: list[str]
    staff: list[dict]
    planned_departure_at: datetime
    departed_at: datetime | None
    completed_at: datetime | None
    legs: list[LegView]
    return_ids: list[uuid.UUID]


class EscalationView(BaseModel):
    id: uuid.UUID
    return_id: uuid.UUID
    person_id: uuid.UUID
    escort_station_id: str
    refused_by: str
    reason: str
    escalated_to: str
    status: str
    opened_at: datetime
    resolved_at: datetime | None
    outcome: str | None
    resolution: str | None


class PlanningGroup(BaseModel):
    destination_province: str
    pending: int
    returns: list[ReturnView]


def return_view(found: Return) -> ReturnView:
    return ReturnView.model_validate(found, from_attributes=True)


def escalation_view(escalation: Escalation) -> EscalationView:
    return EscalationView.model_validate(escalation, from_attributes=True)


async def escort_view(rows: Any, escort: Escort) -> EscortView:
    """The escort with its legs and persons; ``rows`` is a unit of work (``find``)."""
    legs = await rows.find(EscortLeg, escort_id=escort.id, order_by=EscortLeg.sequence)
    aboard = await rows.find(Return, escort_id=escort.id, order_by=Return.opened_at)
    return EscortView.model_validate(
        {
            **escort.model_dump(),
            "legs": [LegView.model_validate(leg, from_attributes=True) for leg in legs],
            "return_ids": [r.id for r in aboard],
        }
    )
