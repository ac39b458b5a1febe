"""Intake's own tables: persistence only."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import Column, DateTime, String
from sqlalchemy.dialects.postgresql import ARRAY, JSONB
from sqlmodel import Field

from rescue_chassis.tables import service_tables

tables, Base = service_tables()
metadata = tables.metadata


class Person(Base, table=True):
    __tablename__ = "persons"

    id: uuid.UUID = Field(primary_key=True)
    station_id: str = Field(max_length=64, index=True)
    arrived_at: datetime = Field(sa_column=Column(DateTime(timezone=True), nullable=False))
    admitted_at: datetime = Field(sa_column=Column(DateTime(timezone=True), nullable=False))
    arrival_route: str = Field(max_length=40)
    identity_status: str = Field(max_length=20)
    full_name: str | None = Field(default=None, max_length=100)
    registered_home_admin_code: str | None = Field(default=None, max_length=12)
    sex: str = Field(max_length=10)
    estimated_age: int | None = None
    stated_names: list[str] = Field(sa_column=Column(ARRAY(String), nullable=False))
    stated_places: list[str] = Field(sa_column=Column(ARRAY(String), nullable=False))
    dialect: str | None = Field(default=None, max_length=100)
    physical_description: str | None = Field(default=None, max_length=2000)
    categories: list[str] = Field(sa_column=Column(ARRAY(String), nullable=False))
    consent_given: bool | None = None
    handover: dict | None = Field(default=None, sa_column=Column(JSONB, nullable=True))
    admitted_by: str = Field(max_length=200)
    identity_confirmed_at: datetime | None = Field(
        default=None, sa_column=Column(DateTime(timezone=True), nullable=True)
    )
