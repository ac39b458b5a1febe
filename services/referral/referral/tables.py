from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import Column, DateTime, String, Text, UniqueConstraint
from sqlalchemy.dialects.postgresql import ARRAY, JSONB
from sqlmodel import Field

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
    contacts: list[dict] = Field(default_factory=list, sa_column=Column(JSONB, nullable=False))
    webhook_url: str | None = Field(default=None, max_length=500)
    webhook_secret: str | None = Field(default=None, max_length=200)
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


class WebhookDelivery(Base, table=True):
    """A partner feed event posted to an agency that cannot consume Kafka, retried
    until it answers 2xx."""

    __tablename__ = "webhook_deliveries"

    id: uuid.UUID = Field(primary_key=True)
    referral_id: uuid.UUID = Field(index=True)
    agency_id: str = Field(max_length=64)
    event_type: str = Field(max_length=60)
    body: str = Field(sa_column=Column(Text, nullable=False))
    status: str = Field(max_length=20, index=True)  # pending | delivered | failed
    attempts: int = 0
    next_attempt_at: datetime = Field(sa_column=_ts())
    delivered_at: datetime | None = Field(default=None, sa_column=_ts(nullable=True))
    last_error: str | None = Field(default=None, max_length=500)
    created_at: datetime = Field(sa_column=_ts())
