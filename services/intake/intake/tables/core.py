"""Intake's own tables: persistence only."""

from __future__ import annotations

import uuid
from datetime import date, datetime

from sqlalchemy import Column, Date, DateTime, String, UniqueConstraint
from sqlalchemy.dialects.postgresql import ARRAY
from sqlmodel import Field

from rescue_chassis.crypto import EncryptedJSON
from rescue_chassis.tables import service_tables

tables, Base = service_tables()
metadata = tables.metadata


class Person(Base, table=True):
    """The person's record, across all their stays in the network."""

    __tablename__ = "persons"

    id: uuid.UUID = Field(primary_key=True)
    station_id: str = Field(
        max_length=64, index=True, description="Where the person is or was last."
    )
    status: str = Field(default="in_station", max_length=20, index=True)  # in_station | discharged
    current_stay_id: uuid.UUID | None = None
    identity_status: str = Field(max_length=20)
    full_name: str | None = Field(
        default=None, max_length=100, description="Only as search confirmed it."
    )
    claimed_name: str | None = Field(
        default=None, max_length=100, description="A name given at intake: a claim, unchecked."
    )
    birth_date: date | None = Field(default=None, sa_column=Column(Date, nullable=True))
    registered_home_admin_code: str | None = Field(default=None, max_length=12)
    registered_home_province: str | None = Field(default=None, max_length=50)
    registered_home_address: str | None = Field(default=None, max_length=300)
    sex: str = Field(max_length=10)
    estimated_age: int | None = None
    stated_names: list[str] = Field(sa_column=Column(ARRAY(String), nullable=False))
    stated_places: list[str] = Field(sa_column=Column(ARRAY(String), nullable=False))
    dialect: str | None = Field(default=None, max_length=100)
    physical_description: str | None = Field(default=None, max_length=2000)
    categories: list[str] = Field(sa_column=Column(ARRAY(String), nullable=False))
    identity_confirmed_at: datetime | None = Field(
        default=None, sa_column=Column(DateTime(timezone=True), nullable=True)
    )


class Stay(Base, table=True):
    """One stay in a station, from arrival to discharge (a person may have several)."""

    __tablename__ = "stays"
    __table_args__ = (UniqueConstraint("person_id", "sequence"),)

    id: uuid.UUID = Field(primary_key=True)
    person_id: uuid.UUID = Field(foreign_key="persons.id", index=True)
    sequence: int
    station_id: str = Field(max_length=64, index=True)
    arrival_route: str = Field(max_length=40)
    arrived_at: datetime = Field(sa_column=Column(DateTime(timezone=True), nullable=False))
    admitted_at: datetime = Field(sa_column=Column(DateTime(timezone=True), nullable=False))
    admitted_by: str = Field(max_length=200)
    consent_given: bool | None = None
    # The patrol's written handover record: officers, reference number, where found.
    handover: dict | None = Field(
        default=None, sa_column=Column(EncryptedJSON("stays.handover"), nullable=True)
    )
    discharged_at: datetime | None = Field(
        default=None, sa_column=Column(DateTime(timezone=True), nullable=True)
    )
    discharge_reason: str | None = Field(default=None, max_length=30)
    discharge_note: str | None = Field(default=None, max_length=2000)
    discharged_by: str | None = Field(default=None, max_length=200)
    transferred_to: str | None = Field(default=None, max_length=200)
    transferred_to_station_id: str | None = Field(default=None, max_length=64)
    long_stay_reached_at: datetime | None = Field(
        default=None, sa_column=Column(DateTime(timezone=True), nullable=True)
    )


class Incident(Base, table=True):
    """Death, a person gone missing, an injury: reported at once (DOMAIN.md, 1)."""

    __tablename__ = "incidents"

    id: uuid.UUID = Field(primary_key=True)
    person_id: uuid.UUID = Field(foreign_key="persons.id", index=True)
    stay_id: uuid.UUID = Field(foreign_key="stays.id")
    station_id: str = Field(max_length=64, index=True)
    kind: str = Field(max_length=20)
    occurred_at: datetime = Field(sa_column=Column(DateTime(timezone=True), nullable=False))
    description: str = Field(max_length=2000)
    reported_by: str = Field(max_length=200)
    reported_at: datetime = Field(sa_column=Column(DateTime(timezone=True), nullable=False))
