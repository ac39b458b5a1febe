"""Search tables: the person-name index (readings of every name, for homophone search)."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import Column, DateTime
from sqlmodel import Field

from search.tables.core import Base

__all__ = ["NameEntry"]


def _ts(nullable: bool = False) -> Column:
    return Column(DateTime(timezone=True), nullable=nullable)


class NameEntry(Base, table=True):
    """One exact reading of one name of a record: a person of the network (a case,
    any station, any time, identified or not) or a family's missing-person report.

    A name has a row per reading combination (王小明: "wang xiao ming"; 曾长乐 has
    several); rows are found by ``loose_key`` (dialect-merged: "wan xiao min") or by
    ``given_loose_key`` (the given name alone: "xiao min"), then reranked in Python
    (search.names). The primary key leads with the record, for re-indexing and
    removal."""

    __tablename__ = "name_index"

    record_kind: str = Field(max_length=10, primary_key=True)  # case | report
    record_id: uuid.UUID = Field(primary_key=True)  # search_cases.id | missing_person_reports.id
    name: str = Field(max_length=100, primary_key=True)  # normalised: 王小明, "wang xiao ming"
    reading: str = Field(max_length=400, primary_key=True)  # exact toneless: "wang xiao ming"
    person_id: uuid.UUID | None = None  # the case's person
    station_id: str = Field(max_length=64)
    loose_key: str = Field(max_length=400, index=True)  # "wan xiao min"
    given_loose_key: str = Field(max_length=400, index=True)  # "xiao min"; "" for no given name
    indexed_at: datetime = Field(sa_column=_ts())
