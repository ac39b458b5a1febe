"""What referral's API answers with (API-out models)."""

from __future__ import annotations

import uuid
from datetime import datetime
from enum import StrEnum

from pydantic import BaseModel, ConfigDict

from referral.feeds import partner_feed
from referral.tables import Person, Referral
from rescue_chassis.network import Network


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


class DeliveryStatus(StrEnum):
    """What ops ask of deliveries: the webhook's state, or the receipt's."""

    PENDING = "pending"
    DELIVERED = "delivered"
    FAILED = "failed"
    UNACKNOWLEDGED = "unacknowledged"
    ACKNOWLEDGED = "acknowledged"
    OVERDUE = "overdue"


class DeliveryView(BaseModel):
    """A delivery as ops see it: where it stands, never what it says."""

    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    cursor: int
    agency_id: str
    feed: str
    event_type: str
    subject_id: uuid.UUID
    source_event_id: uuid.UUID
    created_at: datetime
    webhook_status: str | None
    webhook_attempts: int
    webhook_next_attempt_at: datetime | None
    webhook_delivered_at: datetime | None
    webhook_last_error: str | None
    acknowledge_by: datetime | None
    acknowledged_at: datetime | None
    acknowledged_by: str | None
    overdue_flagged_at: datetime | None


class PartnerReferralView(BaseModel):
    status: str
    feed: dict


def partner_view(network: Network, referral: Referral, person: Person) -> PartnerReferralView:
    """A referral as its agency sees it: its status and only its feed's fields."""
    feed = partner_feed(network, referral, person, referral.sent_at)
    return PartnerReferralView(status=referral.status, feed=feed.model_dump(mode="json"))
