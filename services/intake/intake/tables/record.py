"""The person's record beyond the basics, and care: photos, belongings, health
checks, outsourced care and its monitoring visits, the settlement procedure."""

from __future__ import annotations

import uuid
from datetime import date, datetime

from sqlalchemy import Column, DateTime, LargeBinary, UniqueConstraint
from sqlmodel import Field

from intake.tables.core import Base

__all__ = [
    "Belonging",
    "HealthCheck",
    "OutsourcedCare",
    "OutsourcedCareVisit",
    "PersonPhoto",
    "SettlementStepRecord",
]


def _moment(nullable: bool = False):
    return Column(DateTime(timezone=True), nullable=nullable)


class PersonPhoto(Base, table=True):
    """A photo of the person or their belongings (face data: sensitive under PIPL)."""

    __tablename__ = "person_photos"

    id: uuid.UUID = Field(primary_key=True)
    person_id: uuid.UUID = Field(foreign_key="persons.id", index=True)
    stay_id: uuid.UUID | None = Field(default=None, foreign_key="stays.id")
    station_id: str = Field(max_length=64, index=True)
    kind: str = Field(max_length=20)  # face | full_body | belongings
    content_type: str = Field(max_length=20)
    size_bytes: int
    sha256: str = Field(max_length=64, index=True)
    image: bytes = Field(sa_column=Column(LargeBinary, nullable=False))
    taken_at: datetime = Field(sa_column=_moment())
    added_by: str = Field(max_length=200)
    added_at: datetime = Field(sa_column=_moment())


class Belonging(Base, table=True):
    """One line of a stay's belongings inventory (随身物品)."""

    __tablename__ = "belongings"

    id: uuid.UUID = Field(primary_key=True)
    person_id: uuid.UUID = Field(foreign_key="persons.id", index=True)
    stay_id: uuid.UUID = Field(foreign_key="stays.id", index=True)
    station_id: str = Field(max_length=64)
    description: str = Field(max_length=300)
    quantity: int
    condition: str | None = Field(default=None, max_length=300)
    notes: str | None = Field(default=None, max_length=1000)
    received_at: datetime = Field(sa_column=_moment())
    recorded_by: str = Field(max_length=200)
    recorded_at: datetime = Field(sa_column=_moment())
    returned_at: datetime | None = Field(default=None, sa_column=_moment(nullable=True))
    returned_by: str | None = Field(default=None, max_length=200)
    # At discharge: a remark on the return, or why the items were not returned.
    return_note: str | None = Field(default=None, max_length=2000)


class HealthCheck(Base, table=True):
    """A basic health check (入站基础健康检视); a stay may have several."""

    __tablename__ = "health_checks"

    id: uuid.UUID = Field(primary_key=True)
    person_id: uuid.UUID = Field(foreign_key="persons.id", index=True)
    stay_id: uuid.UUID = Field(foreign_key="stays.id")
    station_id: str = Field(max_length=64)
    checked_at: datetime = Field(sa_column=_moment())
    checked_by: str = Field(max_length=200)
    temperature_c: float | None = None
    systolic_mmhg: int | None = None
    diastolic_mmhg: int | None = None
    pulse_per_minute: int | None = None
    injuries: str | None = Field(default=None, max_length=2000)
    infectious_screening: str = Field(max_length=20)
    infectious_notes: str | None = Field(default=None, max_length=1000)
    notes: str | None = Field(default=None, max_length=2000)
    recorded_by: str = Field(max_length=200)
    recorded_at: datetime = Field(sa_column=_moment())


class OutsourcedCare(Base, table=True):
    """A placement in outsourced care (站外托养): who, where, health, search progress."""

    __tablename__ = "outsourced_care"

    id: uuid.UUID = Field(primary_key=True)
    person_id: uuid.UUID = Field(foreign_key="persons.id", index=True)
    stay_id: uuid.UUID = Field(foreign_key="stays.id")
    station_id: str = Field(max_length=64, index=True)
    institution: str = Field(max_length=200)
    address: str = Field(max_length=300)
    reason: str = Field(max_length=2000)
    started_at: datetime = Field(sa_column=_moment())
    started_by: str = Field(max_length=200)
    # Kept current from the latest monitoring visit.
    health_status: str | None = Field(default=None, max_length=1000)
    search_progress: str | None = Field(default=None, max_length=2000)
    last_visited_at: datetime | None = Field(default=None, sa_column=_moment(nullable=True))
    ended_at: datetime | None = Field(default=None, sa_column=_moment(nullable=True))
    outcome: str | None = Field(default=None, max_length=20)  # back_in_station | discharged
    end_note: str | None = Field(default=None, max_length=2000)
    ended_by: str | None = Field(default=None, max_length=200)


class OutsourcedCareVisit(Base, table=True):
    """A monitoring visit to a person in outsourced care."""

    __tablename__ = "outsourced_care_visits"

    id: uuid.UUID = Field(primary_key=True)
    care_id: uuid.UUID = Field(foreign_key="outsourced_care.id", index=True)
    person_id: uuid.UUID = Field(foreign_key="persons.id")
    visited_at: datetime = Field(sa_column=_moment())
    visited_by: str = Field(max_length=200)
    health_status: str = Field(max_length=1000)
    search_progress: str | None = Field(default=None, max_length=2000)
    recorded_by: str = Field(max_length=200)
    recorded_at: datetime = Field(sa_column=_moment())


class SettlementStepRecord(Base, table=True):
    """A step of a long stay's settlement procedure (落户安置); once per stay."""

    __tablename__ = "settlement_steps"
    __table_args__ = (UniqueConstraint("stay_id", "step"),)

    id: uuid.UUID = Field(primary_key=True)
    person_id: uuid.UUID = Field(foreign_key="persons.id", index=True)
    stay_id: uuid.UUID = Field(foreign_key="stays.id")
    station_id: str = Field(max_length=64)
    step: str = Field(max_length=30)
    number: int
    done_on: date
    done_by: str = Field(max_length=200)
    note: str | None = Field(default=None, max_length=2000)
    recorded_by: str = Field(max_length=200)
    recorded_at: datetime = Field(sa_column=_moment())
