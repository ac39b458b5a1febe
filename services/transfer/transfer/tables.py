from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import Column, DateTime, LargeBinary, String, Text, UniqueConstraint
from sqlalchemy.dialects.postgresql import ARRAY, JSONB
from sqlmodel import Field

from rescue_chassis.crypto import EncryptedText
from rescue_chassis.tables import service_tables

tables, Base = service_tables()
metadata = tables.metadata


def _ts(nullable: bool = False) -> Column:
    return Column(DateTime(timezone=True), nullable=nullable)


class Traveller(Base, table=True):
    """Transfer's own projection of an admitted person: what escort planning needs."""

    __tablename__ = "travellers"

    person_id: uuid.UUID = Field(primary_key=True)
    station_id: str = Field(max_length=64)
    sex: str = Field(max_length=10)
    estimated_age: int | None = None
    categories: list[str] = Field(sa_column=Column(ARRAY(String), nullable=False))


class Return(Base, table=True):
    """A person's return home (返乡), escorted by their station or the center."""

    __tablename__ = "returns"

    id: uuid.UUID = Field(primary_key=True)
    person_id: uuid.UUID = Field(unique=True)
    station_id: str = Field(max_length=64, index=True)
    escort_station_id: str = Field(max_length=64, index=True)
    cross_province: bool
    status: str = Field(max_length=20, index=True)
    full_name: str = Field(max_length=100)
    destination_province: str = Field(max_length=50)
    home_address: str = Field(max_length=300)
    home_admin_code: str | None = Field(default=None, max_length=12)
    opened_at: datetime = Field(sa_column=_ts())
    opened_by: str = Field(max_length=200)  # "identity_confirmed" or the staff member
    fit_to_travel: bool | None = None
    medical_escort_required: bool = False
    fitness_note: str | None = Field(default=None, max_length=500)
    escort_id: uuid.UUID | None = Field(default=None, foreign_key="escorts.id", index=True)
    handed_over_at: datetime | None = Field(default=None, sa_column=_ts(True))
    receiver_kind: str | None = Field(default=None, max_length=30)
    received_by: str | None = Field(default=None, max_length=100)
    relation: str | None = Field(default=None, max_length=50)
    receiver_id_document_type: str | None = Field(default=None, max_length=30)
    receiver_id_document_number: str | None = Field(
        default=None, sa_type=EncryptedText("returns.receiver_id_document_number")
    )  # encrypted at rest
    handover_place: str | None = Field(default=None, max_length=300)
    signature_png: bytes | None = Field(default=None, sa_column=Column(LargeBinary, nullable=True))
    handover_recorded_by: str | None = Field(default=None, max_length=200)


class Escort(Base, table=True):
    """One trip home run by a station: staff, transport, itinerary, several persons."""

    __tablename__ = "escorts"

    id: uuid.UUID = Field(primary_key=True)
    escort_station_id: str = Field(max_length=64, index=True)
    destination_province: str = Field(max_length=50)
    status: str = Field(max_length=20)
    transport_mode: str = Field(max_length=30)
    vehicle: str | None = Field(default=None, max_length=50)
    tickets: list[str] = Field(sa_column=Column(ARRAY(String), nullable=False))
    staff: list[dict] = Field(sa_column=Column(JSONB, nullable=False))
    planned_departure_at: datetime = Field(sa_column=_ts())
    departed_at: datetime | None = Field(default=None, sa_column=_ts(True))
    completed_at: datetime | None = Field(default=None, sa_column=_ts(True))
    planned_by: str = Field(max_length=200)
    created_at: datetime = Field(sa_column=_ts())


class EscortLeg(Base, table=True):
    __tablename__ = "escort_legs"
    __table_args__ = (UniqueConstraint("escort_id", "sequence"),)

    id: uuid.UUID = Field(primary_key=True)
    escort_id: uuid.UUID = Field(foreign_key="escorts.id", index=True)
    sequence: int
    origin: str = Field(max_length=100)
    destination: str = Field(max_length=100)
    mode: str = Field(max_length=30)
    planned_departure_at: datetime = Field(sa_column=_ts())
    planned_arrival_at: datetime | None = Field(default=None, sa_column=_ts(True))
    arrived_at: datetime | None = Field(default=None, sa_column=_ts(True))


class Escalation(Base, table=True):
    """A refusal by the home area, escalated to the higher civil-affairs level."""

    __tablename__ = "escalations"

    id: uuid.UUID = Field(primary_key=True)
    return_id: uuid.UUID = Field(foreign_key="returns.id", index=True)
    person_id: uuid.UUID
    escort_station_id: str = Field(max_length=64, index=True)
    refused_by: str = Field(max_length=200)
    reason: str = Field(sa_column=Column(Text, nullable=False))
    escalated_to: str = Field(max_length=200)
    status: str = Field(max_length=20)  # open | resolved
    opened_at: datetime = Field(sa_column=_ts())
    resolved_at: datetime | None = Field(default=None, sa_column=_ts(True))
    outcome: str | None = Field(default=None, max_length=40)
    resolution: str | None = Field(default=None, sa_column=Column(Text, nullable=True))


class ReturnNotice(Base, table=True):
    """The written notice to the origin's civil-affairs department (书面告知)."""

    __tablename__ = "return_notices"

    id: uuid.UUID = Field(primary_key=True)
    return_id: uuid.UUID = Field(foreign_key="returns.id", unique=True)
    addressed_to: str = Field(max_length=200)
    issued_at: datetime = Field(sa_column=_ts())
    html: str = Field(sa_column=Column(Text, nullable=False))
