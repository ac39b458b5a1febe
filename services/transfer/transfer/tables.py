from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import Column, DateTime
from sqlmodel import Field

from rescue_chassis.tables import service_tables

tables, Base = service_tables()
metadata = tables.metadata


def _ts(nullable: bool = False) -> Column:
    return Column(DateTime(timezone=True), nullable=nullable)


class Return(Base, table=True):
    """A person's return home (返乡), escorted by their station or the center."""

    __tablename__ = "returns"

    id: uuid.UUID = Field(primary_key=True)
    person_id: uuid.UUID = Field(unique=True)
    station_id: str = Field(max_length=64, index=True)
    escort_station_id: str = Field(max_length=64, index=True)
    cross_province: bool
    status: str = Field(max_length=20)  # planned | handed_over
    full_name: str = Field(max_length=100)
    destination_province: str = Field(max_length=50)
    home_address: str = Field(max_length=300)
    home_admin_code: str | None = Field(default=None, max_length=12)
    opened_at: datetime = Field(sa_column=_ts())
    handed_over_at: datetime | None = Field(default=None, sa_column=_ts(True))
    receiver_kind: str | None = Field(default=None, max_length=30)
    received_by: str | None = Field(default=None, max_length=100)
    relation: str | None = Field(default=None, max_length=50)
    handover_recorded_by: str | None = Field(default=None, max_length=200)
