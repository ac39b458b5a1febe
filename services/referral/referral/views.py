"""What referral's API answers with (API-out models)."""

from __future__ import annotations

import uuid
from datetime import datetime

from pydantic import BaseModel, ConfigDict


class ReferralView(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    person_id: uuid.UUID
    station_id: str
    partner_type: str
    reason: str
    agency_id: str | None
    mandatory: bool
    consent_required: bool
    consent: str | None
    consent_note: str | None
    status: str
    opened_at: datetime
    opened_by: str
    sent_at: datetime | None
    acknowledge_by: datetime | None
    acknowledged_at: datetime | None
    accepted_at: datetime | None
    act_by: datetime | None
    closed_at: datetime | None
    outcome: str | None
    acknowledgement_overdue_at: datetime | None
    action_overdue_at: datetime | None


class AgencyView(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: str
    name: str
    partner_type: str
    jurisdiction_code: str
    contacts: list[dict]
    webhook_url: str | None
    active: bool
