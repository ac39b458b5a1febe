"""Search tables: evidence — clues (520), missing-person reports from families,
identity candidates for review, and the evidence of a confirmed identity."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import Column, DateTime, String, UniqueConstraint
from sqlalchemy.dialects.postgresql import ARRAY, JSONB
from sqlmodel import Field

from rescue_chassis.crypto import BlindIndex, EncryptedText
from search.tables.core import Base

__all__ = ["Clue", "IdentityCandidate", "IdentityEvidence", "MissingPersonReport"]


def _ts(nullable: bool = False) -> Column:
    return Column(DateTime(timezone=True), nullable=nullable)


def _strings() -> Column:
    return Column(ARRAY(String), nullable=False, server_default="{}")


class Clue(Base, table=True):
    """One structured "520" record of a conversation with the person: observe (望),
    listen to the dialect (闻), ask (问), note changes over time (切), judge together (断)."""

    __tablename__ = "clues"

    id: uuid.UUID = Field(primary_key=True)
    case_id: uuid.UUID = Field(foreign_key="search_cases.id", index=True)
    station_id: str = Field(max_length=64)
    observed: str | None = Field(default=None, max_length=2000)
    dialect_heard: str | None = Field(default=None, max_length=2000)
    person_said: str | None = Field(default=None, max_length=2000)
    changes: str | None = Field(default=None, max_length=2000)
    group_judgment: str | None = Field(default=None, max_length=2000)
    names: list[str] = Field(default_factory=list, sa_column=_strings())
    places: list[str] = Field(default_factory=list, sa_column=_strings())
    apparent_sex: str | None = Field(default=None, max_length=10)
    apparent_age: int | None = None
    author: str = Field(max_length=200)
    noted_at: datetime = Field(sa_column=_ts())
    recorded_by: str = Field(max_length=200)
    recorded_at: datetime = Field(sa_column=_ts())


class MissingPersonReport(Base, table=True):
    """A family's report of a missing relative (走失人员家属提供信息)."""

    __tablename__ = "missing_person_reports"

    id: uuid.UUID = Field(primary_key=True)
    station_id: str = Field(max_length=64, index=True)  # the reporting station
    status: str = Field(max_length=20, index=True)  # open | found
    reported_name: str = Field(max_length=100)
    sex: str = Field(max_length=10)
    age: int | None = None
    birth_year: int | None = None
    description: str | None = Field(default=None, max_length=2000)
    last_seen_place: str = Field(max_length=300)
    last_seen_at: datetime | None = Field(default=None, sa_column=_ts(True))
    home_place: str | None = Field(default=None, max_length=300)
    contact_name: str = Field(max_length=100)
    contact_phone: str = Field(sa_type=EncryptedText("missing_person_reports.contact_phone"))
    photo_refs: list[str] = Field(default_factory=list, sa_column=_strings())
    reported_by: str = Field(max_length=200)
    reported_at: datetime = Field(sa_column=_ts())
    found_case_id: uuid.UUID | None = None
    closed_at: datetime | None = Field(default=None, sa_column=_ts(True))


class IdentityCandidate(Base, table=True):
    """A possible match between an admitted person and a report, waiting for review.
    Nothing is merged automatically: a reviewer rejects it or confirms the identity."""

    __tablename__ = "identity_candidates"
    __table_args__ = (UniqueConstraint("case_id", "report_id"),)

    id: uuid.UUID = Field(primary_key=True)
    case_id: uuid.UUID = Field(foreign_key="search_cases.id", index=True)
    report_id: uuid.UUID = Field(foreign_key="missing_person_reports.id", index=True)
    station_id: str = Field(max_length=64, index=True)  # the case's station
    report_station_id: str = Field(max_length=64, index=True)
    status: str = Field(max_length=20, index=True)  # pending|rejected|confirmed|superseded
    score: float
    reasons: list[str] = Field(default_factory=list, sa_column=_strings())
    # search.ranking's findings, field by field: {field, verdict, score, detail}
    explanation: list[dict] = Field(
        default_factory=list, sa_column=Column(JSONB, nullable=False, server_default="[]")
    )
    proposed_at: datetime = Field(sa_column=_ts())
    reviewed_by: str | None = Field(default=None, max_length=200)
    reviewed_at: datetime | None = Field(default=None, sa_column=_ts(True))
    rejection_reason: str | None = Field(default=None, max_length=500)


class IdentityEvidence(Base, table=True):
    """What confirmed a case's identity, and the national identity number: kept here,
    with the case, and never put on an event."""

    __tablename__ = "identity_evidence"

    case_id: uuid.UUID = Field(foreign_key="search_cases.id", primary_key=True)
    # Encrypted at rest; searched by its blind index (set from it on every write).
    national_id_number: str | None = Field(
        default=None, sa_type=EncryptedText("identity_evidence.national_id_number")
    )
    national_id_lookup: str | None = Field(
        default=None, index=True, sa_type=BlindIndex("national_id", source="national_id_number")
    )
    evidence: list[dict] = Field(default_factory=list, sa_column=Column(JSONB, nullable=False))
    candidate_id: uuid.UUID | None = Field(default=None, foreign_key="identity_candidates.id")
    confirmed_by: str = Field(max_length=200)
    confirmed_at: datetime = Field(sa_column=_ts())
