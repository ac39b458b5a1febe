"""Search tables: the center's escalation list (督办) and the face photos intake
shared for enrolment."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import Column, DateTime, UniqueConstraint
from sqlmodel import Field

from search.tables.core import Base

__all__ = ["Escalation", "SharedPhoto"]


def _ts(nullable: bool = False) -> Column:
    return Column(DateTime(timezone=True), nullable=nullable)


class Escalation(Base, table=True):
    """A missed deadline or a long stay on the center's list, until a center
    coordinator acknowledges it. One per deadline: (kind, source_id) is unique."""

    __tablename__ = "escalations"
    __table_args__ = (UniqueConstraint("kind", "source_id"),)

    id: uuid.UUID = Field(primary_key=True)
    # notice_overdue | police_check_overdue | dna_overdue | long_stay | long_hospital_stay
    kind: str = Field(max_length=30, index=True)
    source_id: uuid.UUID  # the search task, the stay or the hospital placement
    person_id: uuid.UUID = Field(index=True)
    case_id: uuid.UUID | None = Field(default=None, index=True)
    station_id: str = Field(max_length=64, index=True)
    due_at: datetime = Field(sa_column=_ts())  # the deadline missed, or the long stay reached
    opened_at: datetime = Field(sa_column=_ts())
    status: str = Field(max_length=20, index=True)  # open | acknowledged
    acknowledged_by: str | None = Field(default=None, max_length=200)
    acknowledged_at: datetime | None = Field(default=None, sa_column=_ts(True))
    acknowledgement_note: str | None = Field(default=None, max_length=1000)


class SharedPhoto(Base, table=True):
    """A face photo intake shared (photo_shared_for_search), by intake's photo id:
    handled once, whatever the number of events. The image is not kept (PIPL);
    an enrolled face is in face_records."""

    __tablename__ = "shared_photos"

    photo_id: uuid.UUID = Field(primary_key=True)
    person_id: uuid.UUID = Field(index=True)
    case_id: uuid.UUID | None = Field(default=None, index=True)
    station_id: str = Field(max_length=64, index=True)
    sha256: str = Field(max_length=64)
    status: str = Field(max_length=20, index=True)  # enrolled | not_enrolled | upload_needed
    reason: str | None = Field(default=None, max_length=500)
    face_record_id: uuid.UUID | None = None
    received_at: datetime = Field(sa_column=_ts())
