from __future__ import annotations

import uuid
from datetime import date, datetime

from sqlalchemy import Column, DateTime, String, Text, UniqueConstraint
from sqlalchemy.dialects.postgresql import ARRAY
from sqlmodel import Field

from rescue_chassis.crypto import EncryptedText
from rescue_chassis.tables import service_tables

tables, Base = service_tables()
metadata = tables.metadata


def _ts(nullable: bool = False) -> Column:
    return Column(DateTime(timezone=True), nullable=nullable)


def _strings() -> Column:
    return Column(ARRAY(String), nullable=False)


class Person(Base, table=True):
    """What followup knows about a person, from intake's and search's events."""

    __tablename__ = "persons"

    person_id: uuid.UUID = Field(primary_key=True)
    station_id: str | None = Field(default=None, max_length=64)
    categories: list[str] = Field(default_factory=list, sa_column=_strings())
    full_name: str | None = Field(default=None, max_length=100)
    # name|home, set once the identity is confirmed: how a returned person is recognised
    identity_key: str | None = Field(default=None, max_length=420, index=True)


class StabilisationRecord(Base, table=True):
    """A returned person's stabilisation at home (回归稳固), and the ledger entry
    (返乡受助人员信息台账)."""

    __tablename__ = "stabilisation_records"

    id: uuid.UUID = Field(primary_key=True)
    person_id: uuid.UUID = Field(unique=True)
    # handover: a return of this network (return_id); inbound_return: another
    # region's station escorted the person home here (inbound_return_id).
    source: str = Field(default="handover", max_length=20)
    return_id: uuid.UUID | None = None
    inbound_return_id: uuid.UUID | None = Field(default=None, foreign_key="inbound_returns.id")
    station_id: str = Field(max_length=64, index=True)
    escort_station_id: str | None = Field(default=None, max_length=64)
    full_name: str | None = Field(default=None, max_length=100)
    home_province: str = Field(max_length=50)
    home_address: str = Field(max_length=300)
    home_admin_code: str | None = Field(default=None, max_length=12)
    jurisdiction_code: str | None = Field(default=None, max_length=12, index=True)
    identity_key: str | None = Field(default=None, max_length=420, index=True)
    received_by: str | None = Field(default=None, max_length=100)
    handed_over_at: datetime = Field(sa_column=_ts())
    opened_at: datetime = Field(sa_column=_ts())
    status: str = Field(max_length=20)  # active | closed
    closed_at: datetime | None = Field(default=None, sa_column=_ts(nullable=True))
    outcome: str | None = Field(default=None, max_length=20)  # stable_year | settled | deceased
    settlement: str | None = Field(default=None, sa_column=Column(Text, nullable=True))


class Revisit(Base, table=True):
    __tablename__ = "revisits"
    __table_args__ = (UniqueConstraint("record_id", "sequence"),)

    id: uuid.UUID = Field(primary_key=True)
    record_id: uuid.UUID = Field(foreign_key="stabilisation_records.id", index=True)
    sequence: int
    due_on: date = Field(index=True)
    assigned_to: str | None = Field(default=None, max_length=12)  # town or county code
    status: str = Field(max_length=20)  # scheduled | done | overdue
    overdue_at: datetime | None = Field(default=None, sa_column=_ts(nullable=True))
    escalated_at: datetime | None = Field(default=None, sa_column=_ts(nullable=True))
    mode: str | None = Field(default=None, max_length=10)
    visited_on: date | None = None
    visited_by: str | None = Field(default=None, max_length=100)
    situation: str | None = Field(default=None, max_length=30)
    note: str | None = Field(default=None, sa_column=Column(Text, nullable=True))
    recorded_by: str | None = Field(default=None, max_length=200)
    # town_official (the town or village made and recorded it) or the station role
    recorded_by_role: str | None = Field(default=None, max_length=30)


class InboundReturn(Base, table=True):
    """A return notice (返乡通知) from another region's station: a person escorted
    home to this region, by API or on the inbound topic. One per sender's reference."""

    __tablename__ = "inbound_returns"
    __table_args__ = (UniqueConstraint("sending_station", "reference"),)

    id: uuid.UUID = Field(primary_key=True)
    person_id: uuid.UUID = Field(unique=True, description="Minted here for this network.")
    station_id: str = Field(max_length=64, index=True)  # whose ledger holds the person
    channel: str = Field(max_length=10)  # api | event
    sending_station: str = Field(max_length=100)
    sending_region: str = Field(max_length=100)
    reference: str = Field(max_length=64)
    full_name: str = Field(max_length=100)
    sex: str = Field(max_length=10)
    birth_year: int | None = None
    age: int | None = None
    # Encrypted at rest (rescue_chassis.crypto); shown masked but to reviewers.
    national_id_number: str | None = Field(
        default=None, sa_type=EncryptedText("inbound_returns.national_id_number")
    )
    home_province: str = Field(max_length=50)
    home_address: str = Field(max_length=300)
    home_admin_code: str = Field(max_length=12)
    expected_arrival_on: date
    escort: str | None = Field(default=None, max_length=300)
    categories: list[str] = Field(default_factory=list, sa_column=_strings())
    notified_by: str = Field(max_length=200)  # the staff member, or the sender's system
    notified_at: datetime = Field(sa_column=_ts())
    received_at: datetime = Field(sa_column=_ts())


class HelpTask(Base, table=True):
    """A difficulty found on a revisit, with who deals with it."""

    __tablename__ = "help_tasks"

    id: uuid.UUID = Field(primary_key=True)
    record_id: uuid.UUID = Field(foreign_key="stabilisation_records.id", index=True)
    revisit_sequence: int
    difficulty: str = Field(max_length=30)
    refer_to: str | None = Field(default=None, max_length=30)
    owner: str | None = Field(default=None, max_length=100)
    status: str = Field(max_length=20)  # open | done
    opened_at: datetime = Field(sa_column=_ts())
    closed_at: datetime | None = Field(default=None, sa_column=_ts(nullable=True))
    outcome: str | None = Field(default=None, sa_column=Column(Text, nullable=True))


class AtRiskEntry(Base, table=True):
    """The at-risk register (易流浪走失人员信息库), one entry per person."""

    __tablename__ = "at_risk_register"

    id: uuid.UUID = Field(primary_key=True)
    person_id: uuid.UUID = Field(unique=True)
    record_id: uuid.UUID | None = Field(default=None, foreign_key="stabilisation_records.id")
    station_id: str = Field(max_length=64, index=True)
    jurisdiction_code: str | None = Field(default=None, max_length=12, index=True)
    reasons: list[str] = Field(default_factory=list, sa_column=_strings())
    added_by: str = Field(max_length=200)  # "automatic" or the staff member
    note: str | None = Field(default=None, max_length=500)
    registered_at: datetime = Field(sa_column=_ts())


class RiskAssessment(Base, table=True):
    """The center's assessment (市站做评估)."""

    __tablename__ = "risk_assessments"

    id: uuid.UUID = Field(primary_key=True)
    record_id: uuid.UUID = Field(foreign_key="stabilisation_records.id", index=True)
    level: str = Field(max_length=10)
    reasons: list[str] = Field(default_factory=list, sa_column=_strings())
    owner: str = Field(max_length=100)
    assessed_by: str = Field(max_length=200)
    assessed_at: datetime = Field(sa_column=_ts())


class HelpPlan(Base, table=True):
    """The county's help plan (县级做帮扶)."""

    __tablename__ = "help_plans"

    id: uuid.UUID = Field(primary_key=True)
    record_id: uuid.UUID = Field(foreign_key="stabilisation_records.id", index=True)
    county_code: str | None = Field(default=None, max_length=6)
    measures: list[str] = Field(default_factory=list, sa_column=_strings())
    owner: str = Field(max_length=100)
    created_by: str = Field(max_length=200)
    created_at: datetime = Field(sa_column=_ts())


class SocialWorkService(Base, table=True):
    """A service delivered by a social worker (社工做服务)."""

    __tablename__ = "social_work_services"

    id: uuid.UUID = Field(primary_key=True)
    record_id: uuid.UUID = Field(foreign_key="stabilisation_records.id", index=True)
    service: str = Field(max_length=100)
    owner: str = Field(max_length=100)
    delivered_on: date
    note: str | None = Field(default=None, sa_column=Column(Text, nullable=True))
    recorded_by: str = Field(max_length=200)


class RepeatWandering(Base, table=True):
    """A person of the ledger admitted again (屡送屡返)."""

    __tablename__ = "repeat_wanderings"
    __table_args__ = (UniqueConstraint("record_id", "person_id"),)

    id: uuid.UUID = Field(primary_key=True)
    record_id: uuid.UUID = Field(foreign_key="stabilisation_records.id", index=True)
    person_id: uuid.UUID = Field(description="The person as admitted again.")
    origin_station_id: str = Field(max_length=64, index=True)
    admitting_station_id: str = Field(max_length=64, index=True)
    basis: str = Field(max_length=30)
    flagged_at: datetime = Field(sa_column=_ts())
