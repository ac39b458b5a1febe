"""Search tables: the faces of persons who refused help (劝导), one row per intake
refusal photo, so each is compared once and a later refusal can be recognised."""

from __future__ import annotations

import uuid
from datetime import datetime

from pgvector.sqlalchemy import Vector
from sqlalchemy import Column, DateTime
from sqlmodel import Field

from search.tables.core import Base
from search.tables.faces import FACE_DIMENSIONS

__all__ = ["RefusalFace"]


def _ts(nullable: bool = False) -> Column:
    return Column(DateTime(timezone=True), nullable=nullable)


class RefusalFace(Base, table=True):
    """A refusal photo as search took it: its face's embedding (never the image), or
    why there is none. Kept apart from face_records: a refusal is no case, and its
    face must never show as one (trails, earlier-stay suggestions, report matching).
    Refusals are few: they are compared exactly, without an ANN index."""

    __tablename__ = "refusal_faces"

    photo_id: uuid.UUID = Field(primary_key=True)  # intake's refusal photo id
    refusal_id: uuid.UUID = Field(index=True)
    # The refusal's person when the photo came (minted, or the person staff named).
    person_id: uuid.UUID = Field(index=True)
    station_id: str = Field(max_length=64)  # the station that recorded the refusal
    sha256: str = Field(max_length=64)
    status: str = Field(max_length=20)  # compared | not_compared
    reason: str | None = Field(default=None, max_length=500)
    candidates: int = 0  # how many persons and refusals were suggested
    encoder: str | None = Field(default=None, max_length=60)
    embedding: list[float] | None = Field(
        default=None, sa_column=Column(Vector(FACE_DIMENSIONS), nullable=True)
    )
    photographed_at: datetime | None = Field(default=None, sa_column=_ts(True))
    received_at: datetime = Field(sa_column=_ts())
