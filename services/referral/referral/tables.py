from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import Column, DateTime, UniqueConstraint
from sqlmodel import Field

from rescue_chassis.tables import service_tables

tables, Base = service_tables()
metadata = tables.metadata


class Referral(Base, table=True):
    """A closed-loop hand-off to a partner agency (转介)."""

    __tablename__ = "referrals"
    __table_args__ = (UniqueConstraint("person_id", "partner_type", "reason"),)

    id: uuid.UUID = Field(primary_key=True)
    person_id: uuid.UUID = Field(index=True)
    station_id: str = Field(max_length=64, index=True)
    partner_type: str = Field(max_length=40)
    reason: str = Field(max_length=40)
    status: str = Field(max_length=20)  # created → sent → acknowledged → …
    opened_at: datetime = Field(sa_column=Column(DateTime(timezone=True), nullable=False))
