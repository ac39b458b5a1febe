from __future__ import annotations

from enum import StrEnum
from uuid import UUID

from rescue_events.contracts.base import EventContract, PersonCategory, StationId, Timestamp
from rescue_events.contracts.topics import REFERRAL_EVENTS
from rescue_events.registry import registry


class PartnerType(StrEnum):
    WOMENS_FEDERATION = "womens_federation"
    MINOR_PROTECTION = "minor_protection"
    POLICE = "police"
    HOSPITAL = "hospital"
    CIVIL_AFFAIRS = "civil_affairs"
    SOCIAL_ORGANISATION = "social_organisation"


@registry.event(
    "referral_opened",
    1,
    topic=REFERRAL_EVENTS,
    summary="A referral to a partner agency opened.",
)
class ReferralOpenedV1(EventContract):
    referral_id: UUID
    station_id: StationId
    partner_type: PartnerType
    reason: PersonCategory
    opened_at: Timestamp
