"""Refusals recognised by face (issue 25): a refusal's face photos, kept as person
photos are and shared with search, and the persons search found with that face
(suggestions for staff).

Revision ID: 0012refusalfaces
Revises: 0011refusalsburials
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel  # noqa: F401  (column types of SQLModel tables)
from alembic import op

revision: str = "0012refusalfaces"
down_revision: str | None = "0011refusalsburials"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _text(length: int):
    return sqlmodel.sql.sqltypes.AutoString(length=length)


def _at() -> sa.DateTime:
    return sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "refusal_photos",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("refusal_id", sa.Uuid(), nullable=False),
        sa.Column("station_id", _text(64), nullable=False),
        sa.Column("content_type", _text(20), nullable=False),
        sa.Column("size_bytes", sa.Integer(), nullable=False),
        sa.Column("sha256", _text(64), nullable=False),
        sa.Column("image", sa.LargeBinary(), nullable=False),
        sa.Column("taken_at", _at(), nullable=False),
        sa.Column("added_by", _text(200), nullable=False),
        sa.Column("added_at", _at(), nullable=False),
        sa.Column("withheld", _text(20), nullable=True),
        sa.Column("recognised_at", _at(), nullable=True),
        sa.Column("recognition_note", _text(500), nullable=True),
        sa.ForeignKeyConstraint(["refusal_id"], ["refusals.id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index(op.f("ix_refusal_photos_refusal_id"), "refusal_photos", ["refusal_id"])
    op.create_index(op.f("ix_refusal_photos_station_id"), "refusal_photos", ["station_id"])
    op.create_table(
        "refusal_face_matches",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("refusal_id", sa.Uuid(), nullable=False),
        sa.Column("photo_id", sa.Uuid(), nullable=False),
        sa.Column("kind", _text(20), nullable=False),
        sa.Column("person_id", sa.Uuid(), nullable=False),
        sa.Column("earlier_refusal_id", sa.Uuid(), nullable=True),
        sa.Column("station_id", _text(64), nullable=False),
        sa.Column("similarity", sa.Float(), nullable=False),
        sa.Column("recorded_at", _at(), nullable=False),
        sa.ForeignKeyConstraint(["refusal_id"], ["refusals.id"]),
        sa.ForeignKeyConstraint(["photo_id"], ["refusal_photos.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("photo_id", "kind", "person_id"),
    )
    op.create_index(
        op.f("ix_refusal_face_matches_refusal_id"), "refusal_face_matches", ["refusal_id"]
    )


def downgrade() -> None:
    op.drop_index(op.f("ix_refusal_face_matches_refusal_id"), table_name="refusal_face_matches")
    op.drop_table("refusal_face_matches")
    op.drop_index(op.f("ix_refusal_photos_station_id"), table_name="refusal_photos")
    op.drop_index(op.f("ix_refusal_photos_refusal_id"), table_name="refusal_photos")
    op.drop_table("refusal_photos")
