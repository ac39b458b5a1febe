"""Referrals to partner agencies (转介): the network's own events, each partner
type's minimal feed, and the partners' answers."""

from __future__ import annotations

from enum import StrEnum
from uuid import UUID

from pydantic import Field

from rescue_events.contracts.base import EventContract, StationId, Timestamp
from rescue_events.contracts.intake import Sex
from rescue_events.contracts.topics import (
    PARTNER_ANSWERS,
    PARTNER_TOPICS,
    REFERRAL_COUNTED,
    REFERRAL_RECORDS,
)
from rescue_events.registry import registry

AdminCode = Field(default=None, pattern=r"^\d{6}(\d{3}(\d{3})?)?$")


class PartnerType(StrEnum):
    WOMENS_FEDERATION = "womens_federation"
    MINOR_PROTECTION = "minor_protection"
    POLICE = "police"
    HOSPITAL = "hospital"
    CIVIL_AFFAIRS = "civil_affairs"
    SOCIAL_ORGANISATION = "social_organisation"
    # Another region's station: jurisdiction_code is that region's admin code prefix.
    RESCUE_STATION = "rescue_station"


class ReferralStatus(StrEnum):
    CREATED = "created"  # no agency found yet for the jurisdiction
    AWAITING_CONSENT = "awaiting_consent"
    SENT = "sent"
    ACKNOWLEDGED = "acknowledged"
    ACCEPTED = "accepted"
    DECLINED = "declined"
    IN_PROGRESS = "in_progress"
    COMPLETED = "completed"
    REVOKED = "revoked"


class PartnerAnswerKind(StrEnum):
    ACKNOWLEDGED = "acknowledged"
    ACCEPTED = "accepted"
    DECLINED = "declined"
    IN_PROGRESS = "in_progress"
    COMPLETED = "completed"


@registry.event(
    "referral_opened",
    2,
    topic=REFERRAL_COUNTED,
    summary="A referral to a partner agency opened (by rule or by staff).",
)
class ReferralOpenedV2(EventContract):
    referral_id: UUID
    station_id: StationId
    partner_type: PartnerType
    reason: str = Field(examples=["domestic_violence_victim", "minimum_living_allowance"])
    agency_id: str | None = Field(description="None until an agency serves the jurisdiction.")
    mandatory: bool
    consent_required: bool
    status: ReferralStatus
    opened_at: Timestamp


@registry.event(
    "referral_status_changed",
    1,
    topic=REFERRAL_COUNTED,
    summary="A referral moved a step: consent, sent, each answer of the partner, revoked.",
)
class ReferralStatusChangedV1(EventContract):
    referral_id: UUID
    agency_id: str | None
    status: ReferralStatus
    previous_status: ReferralStatus
    changed_by: str = Field(description="The staff member, the agency, or `system`.")
    changed_at: Timestamp
    note: str | None = Field(default=None, description="Reason, outcome or consent override.")


@registry.event(
    "referral_overdue",
    1,
    topic=REFERRAL_RECORDS,
    summary="A partner missed a deadline (acknowledgement or action): escalated, once each.",
)
class ReferralOverdueV1(EventContract):
    referral_id: UUID
    agency_id: str
    station_id: StationId
    deadline: str = Field(examples=["acknowledgement", "action"])
    due_at: Timestamp
    escalated_to: str


# ---- partner feeds ----------------------------------------------------------
# Never in any feed: DNA, face data, categories, places the person named, and a
# domestic-violence victim's whereabouts (only the women's federation learns
# where she is; everyone else contacts the center station).


class PartnerReferral(EventContract):
    referral_id: UUID
    agency_id: str
    reason: str
    mandatory: bool
    sent_at: Timestamp
    acknowledge_by: Timestamp
    contact_station_id: StationId = Field(description="The station to contact about the case.")


@registry.event(
    "womens_federation_referral",
    1,
    topic=PARTNER_TOPICS["womens_federation"],
    summary="A woman (or girl) needing the women's federation; where she is, with her consent.",
)
class WomensFederationReferralV1(PartnerReferral):
    full_name: str | None = None
    sex: Sex
    estimated_age: int | None = None
    registered_home_admin_code: str | None = AdminCode
    consent_recorded: bool


@registry.event(
    "minor_protection_referral",
    1,
    topic=PARTNER_TOPICS["minor_protection"],
    summary="A minor for the protection institution of the registered home.",
)
class MinorProtectionReferralV1(PartnerReferral):
    full_name: str | None = None
    sex: Sex
    estimated_age: int | None = None
    registered_home_admin_code: str | None = AdminCode


@registry.event(
    "police_referral",
    1,
    topic=PARTNER_TOPICS["police"],
    summary="A case for police investigation (trafficking, coerced begging, abuse, abandonment).",
)
class PoliceReferralV1(PartnerReferral):
    full_name: str | None = None
    sex: Sex
    estimated_age: int | None = None


@registry.event(
    "hospital_referral",
    1,
    topic=PARTNER_TOPICS["hospital"],
    summary="A person for treatment at a designated hospital.",
)
class HospitalReferralV1(PartnerReferral):
    full_name: str | None = None
    sex: Sex
    estimated_age: int | None = None


@registry.event(
    "civil_affairs_referral",
    1,
    topic=PARTNER_TOPICS["civil_affairs"],
    summary="A person eligible for support (特困, 低保, disability) at the registered home.",
)
class CivilAffairsReferralV1(PartnerReferral):
    full_name: str | None = None
    registered_home_admin_code: str | None = AdminCode


@registry.event(
    "social_organisation_referral",
    1,
    topic=PARTNER_TOPICS["social_organisation"],
    summary="A need for a social organisation (job, housing, counselling, legal aid).",
)
class SocialOrganisationReferralV1(PartnerReferral):
    sex: Sex
    estimated_age: int | None = None


PARTNER_FEEDS: dict[PartnerType, type[PartnerReferral]] = {
    PartnerType.WOMENS_FEDERATION: WomensFederationReferralV1,
    PartnerType.MINOR_PROTECTION: MinorProtectionReferralV1,
    PartnerType.POLICE: PoliceReferralV1,
    PartnerType.HOSPITAL: HospitalReferralV1,
    PartnerType.CIVIL_AFFAIRS: CivilAffairsReferralV1,
    PartnerType.SOCIAL_ORGANISATION: SocialOrganisationReferralV1,
}


@registry.event(
    "partner_answer",
    1,
    topic=PARTNER_ANSWERS,
    summary="A partner agency answers a referral sent to it.",
)
class PartnerAnswerV1(EventContract):
    referral_id: UUID
    agency_id: str
    answer: PartnerAnswerKind
    note: str | None = Field(default=None, max_length=2000, description="Reason or outcome.")
    answered_at: Timestamp
