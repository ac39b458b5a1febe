"""Search tables: faces — one face embedding per enrolled photo (pgvector)."""

from __future__ import annotations

import uuid
from datetime import datetime

from pgvector.sqlalchemy import Vector
from sqlalchemy import Column, DateTime, Index, UniqueConstraint
from sqlmodel import Field

from search.tables.core import Base

__all__ = ["FACE_DIMENSIONS", "HNSW_EF_CONSTRUCTION", "HNSW_M", "FaceRecord"]

FACE_DIMENSIONS = 128  # the dlib ResNet v1 model; another encoder's size needs a migration
# The ANN index (pgvector HNSW, Euclidean distance as dlib's model is trained for).
# m: links per node (memory ≈ 8·m bytes a row on top of the vector's 520); ef_construction:
# candidates kept while building. 16/64 are pgvector's defaults; with hnsw.ef_search set
# per query (search.faces.store.EF_SEARCH) they give recall@10 ≥ 0.95 over a million
# face-shaped vectors at a few ms a query (bench/face_search.py).
HNSW_M = 16
HNSW_EF_CONSTRUCTION = 64


def _ts(nullable: bool = False) -> Column:
    return Column(DateTime(timezone=True), nullable=nullable)


class FaceRecord(Base, table=True):
    """One face of one enrolled photo: an admission's photo of the person at a station,
    or a family's photo of a missing relative (with the report). The face's embedding
    finds the same person's other records across every station (the wandering trail)."""

    __tablename__ = "face_records"
    __table_args__ = (
        # Enrolling the same face of the same photo for the same person twice is a no-op.
        UniqueConstraint(
            "person_id",
            "photo_sha256",
            "encoder",
            "box_top",
            "box_right",
            "box_bottom",
            "box_left",
            name="uq_face_records_person_photo_face",
        ),
        Index(
            "ix_face_records_embedding_hnsw",
            "embedding",
            postgresql_using="hnsw",
            postgresql_with={"m": HNSW_M, "ef_construction": HNSW_EF_CONSTRUCTION},
            postgresql_ops={"embedding": "vector_l2_ops"},
        ),
    )

    id: uuid.UUID = Field(primary_key=True)
    # The person the photo shows: the admitted person; for a report, the report's
    # missing person (the report id when no person record exists).
    person_id: uuid.UUID = Field(index=True)
    case_id: uuid.UUID | None = Field(default=None, index=True)
    report_id: uuid.UUID | None = Field(default=None, index=True)
    station_id: str = Field(max_length=64)  # the admitting or reporting station
    source: str = Field(max_length=20)  # admission | report
    photographed_at: datetime | None = Field(default=None, sa_column=_ts(True))
    enrolled_at: datetime = Field(sa_column=_ts())
    found_place: str | None = Field(default=None, max_length=300)  # where the person was found
    encoder: str = Field(max_length=60)  # e.g. dlib-resnet-v1: only equal encoders compare
    photo_sha256: str = Field(max_length=64)
    box_top: int
    box_right: int
    box_bottom: int
    box_left: int
    detection_score: float | None = None
    embedding: list[float] = Field(sa_column=Column(Vector(FACE_DIMENSIONS), nullable=False))
