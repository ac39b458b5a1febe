"""Face records of admissions and reports (pgvector) for the matching engine.

One row per face of an enrolled photo, its 128-d embedding (dlib ResNet v1) in a
pgvector column with an HNSW index on Euclidean distance (vector_l2_ops):
m = 16, ef_construction = 64 (pgvector's defaults; frozen here, the model's
HNSW_M / HNSW_EF_CONSTRUCTION must match). Queries set hnsw.ef_search per
transaction (search.faces.store). bench/face_search.py measures recall@10 and
latency over a million rows.

Revision ID: 0008faces
Revises: 0007casesexage
"""

from collections.abc import Sequence

import pgvector.sqlalchemy
import sqlalchemy as sa
import sqlmodel  # noqa: F401  (column types of SQLModel tables)
from alembic import op

revision: str = "0008faces"
down_revision: str | None = "0007casesexage"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _text(length: int):
    return sqlmodel.sql.sqltypes.AutoString(length=length)


def upgrade() -> None:
    op.execute("CREATE EXTENSION IF NOT EXISTS vector")
    op.create_table(
        "face_records",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("person_id", sa.Uuid(), nullable=False),
        sa.Column("case_id", sa.Uuid(), nullable=True),
        sa.Column("report_id", sa.Uuid(), nullable=True),
        sa.Column("station_id", _text(64), nullable=False),
        sa.Column("source", _text(20), nullable=False),
        sa.Column("photographed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("enrolled_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("found_place", _text(300), nullable=True),
        sa.Column("encoder", _text(60), nullable=False),
        sa.Column("photo_sha256", _text(64), nullable=False),
        sa.Column("box_top", sa.Integer(), nullable=False),
        sa.Column("box_right", sa.Integer(), nullable=False),
        sa.Column("box_bottom", sa.Integer(), nullable=False),
        sa.Column("box_left", sa.Integer(), nullable=False),
        sa.Column("detection_score", sa.Float(), nullable=True),
        sa.Column("embedding", pgvector.sqlalchemy.Vector(128), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint(
            "person_id",
            "photo_sha256",
            "encoder",
            "box_top",
            "box_right",
            "box_bottom",
            "box_left",
            name="uq_face_records_person_photo_face",
        ),
    )
    for column in ("person_id", "case_id", "report_id"):
        op.create_index(op.f(f"ix_face_records_{column}"), "face_records", [column], unique=False)
    op.create_index(
        "ix_face_records_embedding_hnsw",
        "face_records",
        ["embedding"],
        unique=False,
        postgresql_using="hnsw",
        postgresql_with={"m": 16, "ef_construction": 64},
        postgresql_ops={"embedding": "vector_l2_ops"},
    )


def downgrade() -> None:
    op.drop_index("ix_face_records_embedding_hnsw", table_name="face_records")
    for column in ("report_id", "case_id", "person_id"):
        op.drop_index(op.f(f"ix_face_records_{column}"), table_name="face_records")
    op.drop_table("face_records")
    # Other schemas of the same database may use pgvector too.
    op.execute("DROP EXTENSION IF EXISTS vector")
