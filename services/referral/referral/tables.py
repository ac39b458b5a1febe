from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import BigInteger, Column, DateTime, Sequence, String, Text, UniqueConstraint
from sqlalchemy.dialects.postgresql import ARRAY
from sqlmodel import Field

from rescue_chassis.crypto import EncryptedJSON, EncryptedText
from rescue_chassis.tables import service_tables

tables, Base = service_tables()
metadata = tables.metadata


def _ts(nullable: bool = False) -> Column:
    return Column(DateTime(timezone=True), nullable=nullable)


class Person(Base, table=True):
    """What referral knows about a person, from intake's and search's events."""

    __tablename__ = "persons"

    person_id: uuid.UUID = Field(primary_key=True)
    station_id: str = Field(max_length=64)
    sex: str = Field(max_length=10)
    estimated_age: int | None = None
    categories: list[str] = Field(
        default_factory=list, sa_column=Column(ARRAY(String), nullable=False)
    )
    full_name: str | None = Field(default=None, max_length=100)
    registered_home_admin_code: str | None = Field(default=None, max_length=12)


class Agency(Base, table=True):
    """The partner directory: who acts for which jurisdiction."""

    __tablename__ = "agencies"

    id: str = Field(primary_key=True, max_length=64)
    name: str = Field(max_length=200)
    partner_type: str = Field(max_length=40, index=True)
    jurisdiction_code: str = Field(max_length=12, description="Admin code prefix it serves.")
    # Names and phone numbers of the agency's staff, and the key its webhooks are
    # signed with: encrypted at rest (rescue_chassis.crypto).
    contacts: list[dict] = Field(
        default_factory=list,
        sa_column=Column(EncryptedJSON("agencies.contacts"), nullable=False),
    )
    webhook_url: str | None = Field(default=None, max_length=500)
    webhook_secret: str | None = Field(
        default=None, sa_type=EncryptedText("agencies.webhook_secret")
    )
    active: bool = True
    created_at: datetime = Field(sa_column=_ts())


class Referral(Base, table=True):
    """A closed-loop hand-off to a partner agency (转介)."""

    __tablename__ = "referrals"
    __table_args__ = (UniqueConstraint("person_id", "partner_type", "reason"),)

    id: uuid.UUID = Field(primary_key=True)
    person_id: uuid.UUID = Field(index=True)
    station_id: str = Field(max_length=64, index=True)
    partner_type: str = Field(max_length=40)
    reason: str = Field(max_length=40)
    agency_id: str | None = Field(default=None, max_length=64, index=True)
    mandatory: bool = False
    consent_required: bool = False
    consent: str | None = Field(default=None, max_length=20)  # given | override | refused
    consent_note: str | None = Field(default=None, sa_column=Column(Text, nullable=True))
    consent_recorded_by: str | None = Field(default=None, max_length=200)
    status: str = Field(max_length=20, index=True)
    opened_at: datetime = Field(sa_column=_ts())
    opened_by: str = Field(default="rule", max_length=200)
    sent_at: datetime | None = Field(default=None, sa_column=_ts(nullable=True))
    acknowledge_by: datetime | None = Field(default=None, sa_column=_ts(nullable=True))
    acknowledged_at: datetime | None = Field(default=None, sa_column=_ts(nullable=True))
    accepted_at: datetime | None = Field(default=None, sa_column=_ts(nullable=True))
    act_by: datetime | None = Field(default=None, sa_column=_ts(nullable=True))
    closed_at: datetime | None = Field(default=None, sa_column=_ts(nullable=True))
    outcome: str | None = Field(default=None, sa_column=Column(Text, nullable=True))
    acknowledgement_overdue_at: datetime | None = Field(default=None, sa_column=_ts(nullable=True))
    action_overdue_at: datetime | None = Field(default=None, sa_column=_ts(nullable=True))


#: The pull API's cursor: one sequence, so a later delivery always has a larger one.
DELIVERY_CURSOR = Sequence("partner_deliveries_cursor_seq")


class PartnerDelivery(Base, table=True):
    """One message to one partner agency (a referral, a police check, an incident…):
    published on the agency's own topic, posted to its webhook if it has one,
    served on its pull feed, and acknowledged by it when the feed asks for that."""

    __tablename__ = "partner_deliveries"
    __table_args__ = (UniqueConstraint("agency_id", "source_event_id"),)

    id: uuid.UUID = Field(primary_key=True)
    cursor: int | None = Field(
        default=None,
        sa_column=Column(
            BigInteger,
            DELIVERY_CURSOR,
            server_default=DELIVERY_CURSOR.next_value(),
            nullable=False,
            unique=True,
        ),
    )
    agency_id: str = Field(max_length=64, index=True)
    feed: str = Field(max_length=40)
    event_type: str = Field(max_length=60)
    body: str = Field(sa_column=Column(Text, nullable=False))
    subject_id: uuid.UUID = Field(index=True)
    source_event_id: uuid.UUID
    created_at: datetime = Field(sa_column=_ts())
    # The webhook channel; no status: the agency has no webhook.
    webhook_status: str | None = Field(default=None, max_length=20, index=True)
    webhook_attempts: int = 0
    webhook_next_attempt_at: datetime | None = Field(default=None, sa_column=_ts(nullable=True))
    webhook_delivered_at: datetime | None = Field(default=None, sa_column=_ts(nullable=True))
    webhook_last_error: str | None = Field(default=None, max_length=500)
    # The partner's receipt, when the feed asks for one.
    acknowledge_by: datetime | None = Field(default=None, sa_column=_ts(nullable=True))
    acknowledged_at: datetime | None = Field(default=None, sa_column=_ts(nullable=True))
    acknowledged_by: str | None = Field(default=None, max_length=200)
    overdue_flagged_at: datetime | None = Field(default=None, sa_column=_ts(nullable=True))
