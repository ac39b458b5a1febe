"""Referral's facts about its deliveries to partner agencies (the one outbound
mechanism of every partner feed): a receipt acknowledged, a receipt overdue, a
webhook given up. Ids and times only: never the message delivered."""

from __future__ import annotations

from uuid import UUID

from pydantic import Field

from rescue_events.contracts.base import EventContract, Timestamp
from rescue_events.contracts.topics import REFERRAL_RECORDS
from rescue_events.registry import registry


class DeliveryFact(EventContract):
    """person_id: the delivery's subject, the person the message is about."""

    delivery_id: UUID
    agency_id: str = Field(min_length=1, max_length=64, examples=["xinyang-civil-affairs"])
    feed: str = Field(
        examples=["referral", "police_check", "dna_sample", "incident", "escalation"],
        description="The partner feed the message belongs to.",
    )
    event_type: str = Field(description="The type of the message delivered.")
    source_event_id: UUID = Field(description="The event that caused the delivery.")


@registry.event(
    "partner_delivery_acknowledged",
    1,
    topic=REFERRAL_RECORDS,
    summary="A partner agency acknowledged receiving a delivery (pull API).",
)
class PartnerDeliveryAcknowledgedV1(DeliveryFact):
    acknowledged_at: Timestamp
    acknowledged_by: str = Field(description="The agency and its user: `agency:subject`.")
    acknowledge_by: Timestamp | None = Field(description="The deadline, if the feed set one.")


@registry.event(
    "partner_delivery_overdue",
    1,
    topic=REFERRAL_RECORDS,
    summary="A partner agency did not acknowledge a delivery by its deadline: flagged once.",
)
class PartnerDeliveryOverdueV1(DeliveryFact):
    acknowledge_by: Timestamp
    flagged_at: Timestamp


@registry.event(
    "partner_delivery_failed",
    1,
    topic=REFERRAL_RECORDS,
    summary="A delivery's webhook was given up after its last attempt (topic and pull keep it).",
)
class PartnerDeliveryFailedV1(DeliveryFact):
    channel: str = Field(default="webhook", examples=["webhook"])
    attempts: int = Field(ge=1)
    last_error: str | None = Field(default=None, max_length=500)
    failed_at: Timestamp
