"""What referral's API answers with (API-out models)."""

from __future__ import annotations

import uuid
from datetime import datetime

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


class PartnerReferralView(BaseModel):
    status: str
    feed: dict


def partner_view(network: Network, referral: Referral, person: Person) -> PartnerReferralView:
    """A referral as its agency sees it: its status and only its feed's fields."""
    feed = partner_feed(network, referral, person, referral.sent_at)
    return PartnerReferralView(status=referral.status, feed=feed.model_dump(mode="json"))
