from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import Column, DateTime, String, UniqueConstraint
from sqlalchemy.dialects.postgresql import ARRAY, JSONB
from sqlmodel import Field

from rescue_chassis.tables import service_tables

tables, Base = service_tables()
metadata = tables.metadata


def _ts(nullable: bool = False) -> Column:
    return Column(DateTime(timezone=True), nullable=nullable)


class SearchCase(Base, table=True):
    """One unidentified person's search (寻亲甄别)."""

    __tablename__ = "search_cases"

    id: uuid.UUID = Field(primary_key=True)
    person_id: uuid.UUID = Field(unique=True)
    station_id: str = Field(max_length=64, index=True)
    status: str = Field(max_length=20)  # open | identified
    arrived_at: datetime = Field(sa_column=_ts())
    opened_at: datetime = Field(sa_column=_ts())
    notice_due_at: datetime = Field(sa_column=_ts())
    notice_published_at: datetime | None = Field(default=None, sa_column=_ts(True))
    stated_names: str | None = Field(default=None, max_length=2000)
    stated_places: str | None = Field(default=None, max_length=2000)
    dialect: str | None = Field(default=None, max_length=100)
    sex: str | None = Field(default=None, max_length=10, description="As admitted.")
    estimated_age: int | None = Field(default=None, description="As admitted.")
    categories: list[str] = Field(
        default_factory=list, sa_column=Column(ARRAY(String), nullable=False, server_default="{}")
    )
    identified_at: datetime | None = Field(default=None, sa_column=_ts(True))
    identified_by: str | None = Field(default=None, max_length=200)
    method: str | None = Field(default=None, max_length=40)
    full_name: str | None = Field(default=None, max_length=100)
    home_province: str | None = Field(default=None, max_length=50)
    home_address: str | None = Field(default=None, max_length=300)
    home_admin_code: str | None = Field(default=None, max_length=12)
    # How the person's last stay ended while the case was open (returned_home, left,
    # transferred, settled, died); cleared when the person is admitted again.
    ending: str | None = Field(default=None, max_length=20)
    ended_at: datetime | None = Field(default=None, sa_column=_ts(True))


class CaseStation(Base, table=True):
    """Where the case's person has been in the network: one row per station and
    period (``to_at`` None: there now). An earlier station keeps reading the case."""

    __tablename__ = "search_case_stations"

    id: uuid.UUID = Field(primary_key=True)
    case_id: uuid.UUID = Field(foreign_key="search_cases.id", index=True)
    station_id: str = Field(max_length=64, index=True)
    from_at: datetime = Field(sa_column=_ts())
    to_at: datetime | None = Field(default=None, sa_column=_ts(True))


class EarlierStay(Base, table=True):
    """An earlier person of the network's records recognised as this case's person
    (a face or name match a search specialist accepted): the wandering trail."""

    __tablename__ = "earlier_stays"
    __table_args__ = (UniqueConstraint("case_id", "earlier_person_id"),)

    id: uuid.UUID = Field(primary_key=True)
    case_id: uuid.UUID = Field(foreign_key="search_cases.id", index=True)
    earlier_person_id: uuid.UUID
    method: str = Field(max_length=40)
    similarity: float | None = None
    recognised_by: str = Field(max_length=200)
    recognised_at: datetime = Field(sa_column=_ts())


class EarlierStaySuggestion(Base, table=True):
    """A face match of the case's person with a person of earlier records, waiting for
    a search specialist: accepted (it becomes an EarlierStay) or rejected. The
    engine suggests; it never links persons by itself."""

    __tablename__ = "earlier_stay_suggestions"
    __table_args__ = (UniqueConstraint("case_id", "earlier_person_id"),)

    id: uuid.UUID = Field(primary_key=True)
    case_id: uuid.UUID = Field(foreign_key="search_cases.id", index=True)
    station_id: str = Field(max_length=64, index=True)  # the case's station
    earlier_person_id: uuid.UUID
    method: str = Field(max_length=40)  # face_comparison
    similarity: float
    # the earlier person's records that matched: station, when, where found, similarity
    trail: list[dict] = Field(default_factory=list, sa_column=Column(JSONB, nullable=False))
    status: str = Field(max_length=20, index=True)  # pending | accepted | rejected
    suggested_at: datetime = Field(sa_column=_ts())
    reviewed_by: str | None = Field(default=None, max_length=200)
    reviewed_at: datetime | None = Field(default=None, sa_column=_ts(True))
    rejection_reason: str | None = Field(default=None, max_length=500)


class SearchTask(Base, table=True):
    """A task of the search with its deadline: the family-search notice (24 h), the
    DNA sample request, the police identity check."""

    __tablename__ = "search_tasks"
    __table_args__ = (UniqueConstraint("case_id", "kind"),)

    id: uuid.UUID = Field(primary_key=True)
    case_id: uuid.UUID = Field(foreign_key="search_cases.id", index=True)
    station_id: str = Field(max_length=64, index=True)
    kind: str = Field(max_length=30)  # family_search_notice | dna_sample | police_check
    status: str = Field(max_length=20, index=True)  # open | done | cancelled
    due_at: datetime = Field(sa_column=_ts())
    done_at: datetime | None = Field(default=None, sa_column=_ts(True))
    overdue_at: datetime | None = Field(default=None, sa_column=_ts(True))
    # Why a cancelled task can no longer be done: identified, protected,
    # returned_home, left, transferred_out.
    closed_reason: str | None = Field(default=None, max_length=40)
