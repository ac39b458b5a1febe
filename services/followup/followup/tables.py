from __future__ import annotations

import uuid
from datetime import date, datetime

from sqlalchemy import Column, DateTime, UniqueConstraint
from sqlmodel import Field

from rescue_chassis.tables import service_tables

tables, Base = service_tables()
metadata = tables.metadata


def _ts(nullable: bool = False) -> Column:
    return Column(DateTime(timezone=True), nullable=nullable)


class StabilisationRecord(Base, table=True):
    """A returned person's stabilisation at home (回归稳固), and the ledger entry."""

    __tablename__ = "stabilisation_records"

    id: uuid.UUID = Field(primary_key=True)
    person_id: uuid.UUID = Field(unique=True)
    return_id: uuid.UUID
    station_id: str = Field(max_length=64, index=True)
    escort_station_id: str = Field(max_length=64)
    home_province: str = Field(max_length=50)
    home_address: str = Field(max_length=300)
    home_admin_code: str | None = Field(default=None, max_length=12)
    received_by: str = Field(max_length=100)
    handed_over_at: datetime = Field(sa_column=_ts())
    opened_at: datetime = Field(sa_column=_ts())
    status: str = Field(max_length=20)  # active | closed


class Revisit(Base, table=True):
    __tablename__ = "revisits"
    __table_args__ = (UniqueConstraint("record_id", "sequence"),)

    id: uuid.UUID = Field(primary_key=True)
    record_id: uuid.UUID = Field(foreign_key="stabilisation_records.id", index=True)
    sequence: int
    due_on: date
    status: str = Field(max_length=20)  # scheduled | done | missed
