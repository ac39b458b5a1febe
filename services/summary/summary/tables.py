"""The read model: one row per counted fact, and the submissions to the national system.

Facts are what the events say, nothing more; the figures are counted from them when
a table is asked for, so the order events arrive in across topics never matters.
"""

from __future__ import annotations

import uuid
from datetime import date, datetime

from sqlalchemy import Column, Date, DateTime, Index, String
from sqlalchemy.dialects.postgresql import ARRAY, JSONB
from sqlmodel import Field

from rescue_chassis.tables import service_tables

tables, Base = service_tables()
metadata = tables.metadata


def _ts(nullable: bool = False) -> Column:
    return Column(DateTime(timezone=True), nullable=nullable)


class Fact(Base, table=True):
    """One event the summary counts, reduced to what the figures need (summary.facts)."""

    __tablename__ = "facts"
    __table_args__ = (
        Index("ix_facts_kind_at", "kind", "at"),
        Index("ix_facts_ref", "ref"),
        Index("ix_facts_ref2", "ref2"),
        Index("ix_facts_person_id", "person_id"),
    )

    event_id: str = Field(primary_key=True, max_length=64)
    kind: str = Field(max_length=40)
    # None when the event names no station: found through another fact (its ref).
    station_id: str | None = Field(default=None, max_length=64)
    at: datetime = Field(sa_column=_ts())
    other_at: datetime | None = Field(default=None, sa_column=_ts(nullable=True))
    person_id: uuid.UUID | None = None
    ref: uuid.UUID | None = None
    ref2: uuid.UUID | None = None
    detail: str | None = Field(default=None, max_length=64)
    tags: list[str] = Field(
        default_factory=list, sa_column=Column(ARRAY(String(64)), nullable=False)
    )
    number: int | None = None
    flag: bool | None = None
    dates: list[date] = Field(default_factory=list, sa_column=Column(ARRAY(Date), nullable=False))


class Submission(Base, table=True):
    """A month's table sent to the national rescue information system, until it is
    received (a 2xx), with the receipt it answered."""

    __tablename__ = "submissions"

    id: uuid.UUID = Field(primary_key=True)
    month: str = Field(max_length=7, index=True)
    requested_by: str = Field(max_length=200)
    requested_at: datetime = Field(sa_column=_ts())
    table: dict = Field(sa_column=Column(JSONB, nullable=False))
    status: str = Field(max_length=20)  # pending | received
    attempts: int = 0
    next_attempt_at: datetime | None = Field(default=None, sa_column=_ts(nullable=True))
    last_error: str | None = Field(default=None, max_length=300)
    received_at: datetime | None = Field(default=None, sa_column=_ts(nullable=True))
    receipt_id: str | None = Field(default=None, max_length=200)


class Rebuild(Base, table=True):
    """A rebuild of the read model from the beginning of every topic (summary.rebuild)."""

    __tablename__ = "rebuilds"

    id: uuid.UUID = Field(primary_key=True)
    requested_by: str = Field(max_length=200)
    started_at: datetime = Field(sa_column=_ts())
    finished_at: datetime | None = Field(default=None, sa_column=_ts(nullable=True))
    status: str = Field(max_length=20)  # running | done | failed
    records_read: int = 0
    facts: int | None = None
    error: str | None = Field(default=None, max_length=500)
