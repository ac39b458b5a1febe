"""What the civil-affairs bureau and other regions' stations are told: incidents and
escalations for the bureau over the station (reported at once, 立即报告), and the
written return notice (返乡通知) for the home region's station. Only what each
needs: no categories to the bureau, and a domestic-violence victim's station never
(the center answers for her). Each is delivered on the receiving agency's own feed
(referral's deliveries); the topic named here is the type's, as for referrals."""

from __future__ import annotations

from uuid import UUID

from pydantic import Field

from rescue_events.contracts.base import EventContract, StationId, Timestamp
from rescue_events.contracts.intake import IncidentKind
from rescue_events.contracts.topics import PARTNER_TOPICS
from rescue_events.registry import registry

BUREAU_TOPIC = PARTNER_TOPICS["civil_affairs"]


@registry.event(
    "bureau_incident",
    1,
    topic=BUREAU_TOPIC,
    summary="A death, a person gone missing or an injury, told to the bureau over the station.",
)
class BureauIncidentV1(EventContract):
    incident_id: UUID
    kind: IncidentKind
    occurred_at: Timestamp
    contact_station_id: StationId = Field(
        description="Whom to ask: the station, or the center for a protected person."
    )
    contact_station_name: str
    description: str | None = Field(
        default=None, description="What happened; withheld for a protected person."
    )
    full_name: str | None = None
    sex: str | None = None
    estimated_age: int | None = None


@registry.event(
    "bureau_escalation",
    1,
    topic=BUREAU_TOPIC,
    summary=(
        "Escalated to the bureau: a missed search deadline or long stay (督办), or a home "
        "area refusing to take a person back (流出地拒不接收)."
    ),
)
class BureauEscalationV1(EventContract):
    escalation_id: UUID
    kind: str = Field(
        examples=["notice_overdue", "dna_overdue", "long_stay", "handover_refused"],
    )
    contact_station_id: StationId
    contact_station_name: str
    escalated_at: Timestamp
    due_at: Timestamp | None = Field(default=None, description="The deadline missed, if one.")
    refused_by: str | None = Field(default=None, description="For a refusal: who refused.")
    reason: str | None = Field(default=None, description="For a refusal: the reason given.")


@registry.event(
    "home_region_return_notice",
    1,
    topic=BUREAU_TOPIC,
    summary=(
        "The written return notice (返乡通知) to the home region's station: a person of "
        "that region was handed over at home by this network."
    ),
)
class HomeRegionReturnNoticeV1(EventContract):
    notice_id: UUID
    reference: str = Field(description="This network's reference: quote it when answering.")
    sending_station: str = Field(examples=["信阳市救助管理站"])
    sending_region: str = Field(examples=["河南省信阳市"])
    addressed_to: str
    issued_at: Timestamp
    full_name: str | None = None
    sex: str | None = None
    estimated_age: int | None = None
    home_province: str
    home_admin_code: str | None = None
    categories: list[str] = Field(
        default_factory=list,
        description="Only those that put the person on an at-risk register "
        "(minor, elderly, disabled, mental illness, dementia).",
    )
