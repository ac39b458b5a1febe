"""The burial or remains of a person who died in the network's care (殡葬记录):
one record per person, kept with the record so a family found later learns where
the person lies."""

from __future__ import annotations

import uuid
from datetime import date, datetime

from sqlalchemy import Column, Date, DateTime
from sqlmodel import Field

from intake.tables.core import Base

__all__ = ["Burial"]


def _at(nullable: bool = False):
    return Field(default=None, sa_column=Column(DateTime(timezone=True), nullable=nullable))


class Burial(Base, table=True):
    """Where and how the remains went; one per person (a correction replaces it)."""

    __tablename__ = "burials"

    person_id: uuid.UUID = Field(primary_key=True, foreign_key="persons.id")
    stay_id: uuid.UUID = Field(foreign_key="stays.id", description="The stay that ended in death.")
    station_id: str = Field(max_length=64, index=True)
    buried_on: date = Field(sa_column=Column(Date, nullable=False))
    remains: str = Field(max_length=40)  # RemainsHandling
    cemetery: str | None = Field(default=None, max_length=200)
    funeral_home: str | None = Field(default=None, max_length=200)
    certificate_reference: str = Field(max_length=100)
    photo_kept: bool
    dna_kept: bool
    note: str | None = Field(default=None, max_length=2000)
    recorded_at: datetime = _at()
    recorded_by: str = Field(max_length=200)
    corrected_at: datetime | None = _at(nullable=True)
    corrected_by: str | None = Field(default=None, max_length=200)
    correction_note: str | None = Field(default=None, max_length=2000)
