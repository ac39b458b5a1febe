"""Search tables: the matching index — blocking keys and profiles of the open cases
and reports, so that a new one is ranked only against its candidates
(search.candidates)."""

from __future__ import annotations

import uuid

from sqlalchemy import Column, Index, String, text
from sqlalchemy.dialects.postgresql import ARRAY
from sqlmodel import Field

from search.tables.core import Base

__all__ = ["MatchKey", "MatchProfile"]


class MatchKey(Base, table=True):
    """One blocking key of an open case or report: a pair of name sounds, a report's
    name as heard in clues, a city (search.candidates)."""

    __tablename__ = "match_keys"
    __table_args__ = (
        # the lookup: a kind's records by key, answered from the index alone
        Index("ix_match_keys_kind_key", "record_kind", "key", "record_id"),
    )

    record_kind: str = Field(max_length=10, primary_key=True)  # case | report
    record_id: uuid.UUID = Field(primary_key=True)
    key: str = Field(max_length=200, primary_key=True)


class MatchProfile(Base, table=True):
    """What the place candidates are filtered by: sex, age, the resolved place codes."""

    __tablename__ = "match_profiles"
    __table_args__ = (
        Index(
            "ix_match_profiles_unresolved",
            "record_kind",
            postgresql_where=text("NOT places_resolved"),
        ),
    )

    record_kind: str = Field(max_length=10, primary_key=True)  # case | report
    record_id: uuid.UUID = Field(primary_key=True)
    sex: str | None = Field(default=None, max_length=10)  # male | female; None: not known
    age: int | None = None  # a case's age as ranked
    born: int | None = None  # a report's: its age now is this year − born
    codes: list[str] = Field(
        default_factory=list,
        sa_column=Column(ARRAY(String(12)), nullable=False, server_default="{}"),
    )
    # False: indexed while the gazetteer was not loaded; resolved by the next report
    places_resolved: bool = False
