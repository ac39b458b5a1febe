"""Arrivals that are not (yet) admissions: hotline leads, refusals of help,
hospital placements (medical first); and where a transferred stay came from.

A lead, a refusal and a placement carry the person id minted when they were
made: no person record exists yet, so it is no foreign key (a refusal linked to
a known person carries that person's id instead). An admission made
from a lead or a placement uses that id for the new person.
"""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import Column, DateTime, LargeBinary, String, UniqueConstraint
from sqlalchemy.dialects.postgresql import ARRAY
from sqlmodel import Field

from intake.tables.core import Base
from rescue_chassis.crypto import EncryptedText

__all__ = [
    "HospitalPlacement",
    "HospitalScreening",
    "Lead",
    "Refusal",
    "RefusalFaceMatch",
    "RefusalPhoto",
    "StaySource",
]


def _at(nullable: bool = False):
    return Field(
        default=None,
        sa_column=Column(DateTime(timezone=True), nullable=nullable),
    )


class Lead(Base, table=True):
    """A tip to the 24-hour hotline (线索): received → triaged → assigned → closed."""

    __tablename__ = "leads"

    id: uuid.UUID = Field(primary_key=True)
    person_id: uuid.UUID = Field(description="Minted on receipt; the admitted person's id.")
    station_id: str = Field(max_length=64, index=True)
    status: str = Field(max_length=20, index=True)  # received | triaged | assigned | closed
    caller_name: str | None = Field(default=None, max_length=100)
    caller_phone: str | None = Field(
        default=None, sa_type=EncryptedText("leads.caller_phone")
    )  # encrypted at rest
    reported: str = Field(max_length=2000)
    place: str = Field(max_length=300)
    seen_at: datetime | None = _at(nullable=True)
    received_at: datetime = _at()
    received_by: str = Field(max_length=200)
    priority: str | None = Field(default=None, max_length=20)
    triage_note: str | None = Field(default=None, max_length=2000)
    triaged_at: datetime | None = _at(nullable=True)
    triaged_by: str | None = Field(default=None, max_length=200)
    assigned_to: str | None = Field(default=None, max_length=200)
    assigned_at: datetime | None = _at(nullable=True)
    assigned_by: str | None = Field(default=None, max_length=200)
    outcome: str | None = Field(default=None, max_length=30)
    closure_note: str | None = Field(default=None, max_length=2000)
    closed_at: datetime | None = _at(nullable=True)
    closed_by: str | None = Field(default=None, max_length=200)
    stay_id: uuid.UUID | None = Field(default=None, foreign_key="stays.id")


class Refusal(Base, table=True):
    """A person who refused help, and the advice given (劝导记录). No admission."""

    __tablename__ = "refusals"

    id: uuid.UUID = Field(primary_key=True)
    # Minted for the refusal, or the person staff linked it to (a person record's
    # id, or the id of a person met in earlier refusals).
    person_id: uuid.UUID = Field(index=True)
    # The id help_refused went out under: a later link tells consumers to merge it.
    first_person_id: uuid.UUID
    station_id: str = Field(max_length=64, index=True)
    found_place: str = Field(max_length=300)
    found_at: datetime = _at()
    description: str = Field(max_length=2000)
    name: str | None = Field(default=None, max_length=100)
    # The name normalised for matching (refusal_names.name_key); None without a name.
    name_key: str | None = Field(default=None, max_length=100, index=True)
    advice_given: str = Field(max_length=2000)
    recorded_by: str = Field(max_length=100)
    escorting_unit: str | None = Field(default=None, max_length=100)
    recorded_at: datetime = _at()
    entered_by: str = Field(max_length=200)
    linked_at: datetime | None = _at(nullable=True)
    linked_by: str | None = Field(default=None, max_length=200)


class RefusalPhoto(Base, table=True):
    """A face photo of a person who refused help (face data: sensitive under PIPL),
    shared with search to be recognised; its answer is noted here."""

    __tablename__ = "refusal_photos"

    id: uuid.UUID = Field(primary_key=True)
    refusal_id: uuid.UUID = Field(foreign_key="refusals.id", index=True)
    station_id: str = Field(max_length=64, index=True)
    content_type: str = Field(max_length=20)
    size_bytes: int
    sha256: str = Field(max_length=64)
    image: bytes = Field(sa_column=Column(LargeBinary, nullable=False))
    taken_at: datetime = _at()
    added_by: str = Field(max_length=200)
    added_at: datetime = _at()
    # Shared without its image (refusal_photo_shared's `withheld`), else None.
    withheld: str | None = Field(default=None, max_length=20)
    # When search's answer (refusal_face_recognised) came, and why it compared nothing.
    recognised_at: datetime | None = _at(nullable=True)
    recognition_note: str | None = Field(default=None, max_length=500)


class RefusalFaceMatch(Base, table=True):
    """Someone search found with the face of a refusal's photo: a suggestion for
    staff, never a link."""

    __tablename__ = "refusal_face_matches"
    __table_args__ = (UniqueConstraint("photo_id", "kind", "person_id"),)

    id: uuid.UUID = Field(primary_key=True)
    refusal_id: uuid.UUID = Field(foreign_key="refusals.id", index=True)
    photo_id: uuid.UUID = Field(foreign_key="refusal_photos.id")
    kind: str = Field(max_length=20)  # person | refusal
    person_id: uuid.UUID
    # For `refusal`: the earlier refusal (its person may have been linked since).
    earlier_refusal_id: uuid.UUID | None = Field(default=None)
    station_id: str = Field(max_length=64)
    similarity: float
    recorded_at: datetime = _at()


class HospitalPlacement(Base, table=True):
    """Medical first (先救治,后救助): a person placed in hospital before admission;
    the discharge admits them to the placing station."""

    __tablename__ = "hospital_placements"

    id: uuid.UUID = Field(primary_key=True)
    person_id: uuid.UUID
    station_id: str = Field(max_length=64, index=True)
    status: str = Field(max_length=20, index=True)  # open | ended
    hospital: str = Field(max_length=200)
    conditions: list[str] = Field(sa_column=Column(ARRAY(String), nullable=False))
    placed_at: datetime = _at()
    escorting_unit: str | None = Field(default=None, max_length=100)
    sex: str = Field(max_length=10)
    estimated_age: int | None = None
    stated_names: list[str] = Field(sa_column=Column(ARRAY(String), nullable=False))
    stated_places: list[str] = Field(sa_column=Column(ARRAY(String), nullable=False))
    dialect: str | None = Field(default=None, max_length=100)
    physical_description: str | None = Field(default=None, max_length=2000)
    categories: list[str] = Field(sa_column=Column(ARRAY(String), nullable=False))
    placed_by: str = Field(max_length=200)
    recorded_at: datetime = _at()
    discharged_at: datetime | None = _at(nullable=True)
    discharge_reference: str | None = Field(default=None, max_length=100)
    discharged_by: str | None = Field(default=None, max_length=200)
    stay_id: uuid.UUID | None = Field(default=None, foreign_key="stays.id")
    # When the sweep raised long_hospital_stay_reached (once per placement).
    long_stay_reached_at: datetime | None = _at(nullable=True)


class HospitalScreening(Base, table=True):
    """Identity screening by station staff at the hospital (甄别)."""

    __tablename__ = "hospital_screenings"

    id: uuid.UUID = Field(primary_key=True)
    placement_id: uuid.UUID = Field(foreign_key="hospital_placements.id", index=True)
    screened_at: datetime = _at()
    notes: str = Field(max_length=2000)
    full_name: str | None = Field(default=None, max_length=100)
    stated_places: list[str] = Field(sa_column=Column(ARRAY(String), nullable=False))
    screened_by: str = Field(max_length=200)
    recorded_at: datetime = _at()


class StaySource(Base, table=True):
    """Where a transferred stay came from: the discharging hospital, or the
    sending station (of the network, or outside it) and its reference."""

    __tablename__ = "stay_sources"

    stay_id: uuid.UUID = Field(primary_key=True, foreign_key="stays.id")
    kind: str = Field(max_length=20)  # hospital | station
    hospital: str | None = Field(default=None, max_length=200)
    discharge_reference: str | None = Field(default=None, max_length=100)
    station_id: str | None = Field(default=None, max_length=64)
    station_name: str | None = Field(default=None, max_length=100)
    transfer_reference: str | None = Field(default=None, max_length=100)
    placement_id: uuid.UUID | None = Field(default=None, foreign_key="hospital_placements.id")
