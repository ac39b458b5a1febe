"""The center's escalation list (missed search deadlines, long stays in station
and in hospital), and the face photos intake shared for enrolment, one row per
intake photo id so each is enrolled once.

Revision ID: 0015escalations
Revises: 0014onecase
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel  # noqa: F401  (column types of SQLModel tables)
from alembic import op

revision: str = "0015escalations"
down_revision: str | None = "0014onecase"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _text(length: int):
    return sqlmodel.sql.sqltypes.AutoString(length=length)


def upgrade() -> None:
    op.create_table(
        "escalations",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("kind", _text(30), nullable=False),
        sa.Column("source_id", sa.Uuid(), nullable=False),
        sa.Column("person_id", sa.Uuid(), nullable=False),
        sa.Column("case_id", sa.Uuid(), nullable=True),
        sa.Column("station_id", _text(64), nullable=False),
        sa.Column("due_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("opened_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("status", _text(20), nullable=False),
        sa.Column("acknowledged_by", _text(200), nullable=True),
        sa.Column("acknowledged_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("acknowledgement_note", _text(1000), nullable=True),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("kind", "source_id"),
    )
    for column in ("kind", "person_id", "case_id", "station_id", "status"):
        op.create_index(op.f(f"ix_escalations_{column}"), "escalations", [column], unique=False)
    op.create_table(
        "shared_photos",
        sa.Column("photo_id", sa.Uuid(), nullable=False),
        sa.Column("person_id", sa.Uuid(), nullable=False),
        sa.Column("case_id", sa.Uuid(), nullable=True),
        sa.Column("station_id", _text(64), nullable=False),
        sa.Column("sha256", _text(64), nullable=False),
        sa.Column("status", _text(20), nullable=False),
        sa.Column("reason", _text(500), nullable=True),
        sa.Column("face_record_id", sa.Uuid(), nullable=True),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("photo_id"),
    )
    for column in ("person_id", "case_id", "station_id", "status"):
        op.create_index(op.f(f"ix_shared_photos_{column}"), "shared_photos", [column], unique=False)


def downgrade() -> None:
    for column in ("person_id", "case_id", "station_id", "status"):
        op.drop_index(op.f(f"ix_shared_photos_{column}"), table_name="shared_photos")
    op.drop_table("shared_photos")
    for column in ("kind", "person_id", "case_id", "station_id", "status"):
        op.drop_index(op.f(f"ix_escalations_{column}"), table_name="escalations")
    op.drop_table("escalations")
