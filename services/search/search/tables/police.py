"""Search tables: police identity checks and DNA samples, with the police's answers."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import Column, DateTime
from sqlmodel import Field

from rescue_chassis.crypto import BlindIndex, EncryptedText
from search.tables.core import Base

__all__ = ["DnaSample", "PoliceCheck"]


def _ts(nullable: bool = False) -> Column:
    return Column(DateTime(timezone=True), nullable=nullable)


class PoliceCheck(Base, table=True):
    """An identity check asked of the police (快响快查快反) and their answer."""

    __tablename__ = "police_checks"

    id: uuid.UUID = Field(primary_key=True)  # the request id the police answer
    case_id: uuid.UUID = Field(foreign_key="search_cases.id", index=True)
    person_id: uuid.UUID = Field(index=True)
    station_id: str = Field(max_length=64, index=True)
    sex: str = Field(max_length=10)
    estimated_age: int | None = None
    stated_names: str | None = Field(default=None, max_length=2000)
    description: str | None = Field(default=None, max_length=2000)
    face_photo_ref: str | None = Field(default=None, max_length=300)  # deprecated: free text
    face_photo_id: uuid.UUID | None = None  # intake's face photo, behind a signed link
    requested_by: str = Field(max_length=200)
    requested_at: datetime = Field(sa_column=_ts())
    status: str = Field(max_length=20)  # requested | answered
    # identified | no_match | inconclusive | unverifiable
    result: str | None = Field(default=None, max_length=20)
    agency_id: str | None = Field(default=None, max_length=64)  # which police agency answered
    answered_by: str | None = Field(default=None, max_length=200)
    answered_via: str | None = Field(default=None, max_length=10)  # api | topic
    answered_at: datetime | None = Field(default=None, sa_column=_ts(True))
    response_seconds: float | None = None
    full_name: str | None = Field(default=None, max_length=100)
    id_record_ref: str | None = Field(default=None, max_length=100)
    home_province: str | None = Field(default=None, max_length=50)
    home_address: str | None = Field(default=None, max_length=300)
    note: str | None = Field(default=None, max_length=2000)
    # 逐级上报: the check below this one passed up to this agency, and where an
    # `unverifiable` answer went: escalated (to escalated_to_request_id) | top_level
    # (no level above: flagged for the station).
    escalates_request_id: uuid.UUID | None = Field(default=None, foreign_key="police_checks.id")
    escalated_to_request_id: uuid.UUID | None = None
    escalation: str | None = Field(default=None, max_length=20, index=True)


class DnaSample(Base, table=True):
    """A DNA sample sent to the police for the anti-trafficking database, and its result.

    A hit is only trusted once a fresh sample (another reference, taken after the
    hit) hits the same record: the fresh sample names the hit in
    ``reverifies_sample_id``."""

    __tablename__ = "dna_samples"

    id: uuid.UUID = Field(primary_key=True)  # the sample id the police report on
    case_id: uuid.UUID = Field(foreign_key="search_cases.id", index=True)
    person_id: uuid.UUID = Field(index=True)
    station_id: str = Field(max_length=64, index=True)
    # Encrypted at rest; unique and searched by its blind index (set from it on every write).
    sample_ref: str = Field(sa_type=EncryptedText("dna_samples.sample_ref"))
    sample_ref_lookup: str | None = Field(
        default=None, unique=True, index=True, sa_type=BlindIndex("sample_ref", source="sample_ref")
    )
    taken_at: datetime = Field(sa_column=_ts())
    taken_by: str = Field(max_length=200)
    submitted_by: str = Field(max_length=200)
    submitted_at: datetime = Field(sa_column=_ts())
    reverifies_sample_id: uuid.UUID | None = Field(default=None, foreign_key="dna_samples.id")
    # submitted | no_match | unusable | hit_unverified | hit_confirmed | hit_not_confirmed
    # | confirms_hit (a fresh sample that re-verified a hit)
    status: str = Field(max_length=20)
    result: str | None = Field(default=None, max_length=20)  # hit | no_match | unusable
    matched_record_id: str | None = Field(default=None, max_length=100)
    agency_id: str | None = Field(default=None, max_length=64)
    reported_by: str | None = Field(default=None, max_length=200)
    reported_via: str | None = Field(default=None, max_length=10)  # api | topic
    reported_at: datetime | None = Field(default=None, sa_column=_ts(True))
    response_seconds: float | None = None
    note: str | None = Field(default=None, max_length=2000)
