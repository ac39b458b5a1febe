"""Police identity checks and DNA samples, with their answers and re-verification.

Revision ID: 0005police
Revises: 0004notices
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel  # noqa: F401  (column types of SQLModel tables)
from alembic import op

revision: str = "0005police"
down_revision: str | None = "0004notices"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _str(length: int) -> sqlmodel.sql.sqltypes.AutoString:
    return sqlmodel.sql.sqltypes.AutoString(length=length)


def _ts() -> sa.DateTime:
    return sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "police_checks",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("case_id", sa.Uuid(), nullable=False),
        sa.Column("person_id", sa.Uuid(), nullable=False),
        sa.Column("station_id", _str(64), nullable=False),
        sa.Column("sex", _str(10), nullable=False),
        sa.Column("estimated_age", sa.Integer(), nullable=True),
        sa.Column("stated_names", _str(2000), nullable=True),
        sa.Column("description", _str(2000), nullable=True),
        sa.Column("face_photo_ref", _str(300), nullable=True),
        sa.Column("requested_by", _str(200), nullable=False),
        sa.Column("requested_at", _ts(), nullable=False),
        sa.Column("status", _str(20), nullable=False),
        sa.Column("result", _str(20), nullable=True),
        sa.Column("agency_id", _str(64), nullable=True),
        sa.Column("answered_by", _str(200), nullable=True),
        sa.Column("answered_via", _str(10), nullable=True),
        sa.Column("answered_at", _ts(), nullable=True),
        sa.Column("response_seconds", sa.Float(), nullable=True),
        sa.Column("full_name", _str(100), nullable=True),
        sa.Column("id_record_ref", _str(100), nullable=True),
        sa.Column("home_province", _str(50), nullable=True),
        sa.Column("home_address", _str(300), nullable=True),
        sa.Column("note", _str(2000), nullable=True),
        sa.ForeignKeyConstraint(["case_id"], ["search_cases.id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    for column in ("case_id", "person_id", "station_id"):
        op.create_index(op.f(f"ix_police_checks_{column}"), "police_checks", [column])

    op.create_table(
        "dna_samples",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("case_id", sa.Uuid(), nullable=False),
        sa.Column("person_id", sa.Uuid(), nullable=False),
        sa.Column("station_id", _str(64), nullable=False),
        sa.Column("sample_ref", _str(100), nullable=False),
        sa.Column("taken_at", _ts(), nullable=False),
        sa.Column("taken_by", _str(200), nullable=False),
        sa.Column("submitted_by", _str(200), nullable=False),
        sa.Column("submitted_at", _ts(), nullable=False),
        sa.Column("reverifies_sample_id", sa.Uuid(), nullable=True),
        sa.Column("status", _str(20), nullable=False),
        sa.Column("result", _str(20), nullable=True),
        sa.Column("matched_record_id", _str(100), nullable=True),
        sa.Column("agency_id", _str(64), nullable=True),
        sa.Column("reported_by", _str(200), nullable=True),
        sa.Column("reported_via", _str(10), nullable=True),
        sa.Column("reported_at", _ts(), nullable=True),
        sa.Column("response_seconds", sa.Float(), nullable=True),
        sa.Column("note", _str(2000), nullable=True),
        sa.ForeignKeyConstraint(["case_id"], ["search_cases.id"]),
        sa.ForeignKeyConstraint(["reverifies_sample_id"], ["dna_samples.id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    for column in ("case_id", "person_id", "station_id"):
        op.create_index(op.f(f"ix_dna_samples_{column}"), "dna_samples", [column])
    op.create_index(op.f("ix_dna_samples_sample_ref"), "dna_samples", ["sample_ref"], unique=True)


def downgrade() -> None:
    for column in ("sample_ref", "station_id", "person_id", "case_id"):
        op.drop_index(op.f(f"ix_dna_samples_{column}"), table_name="dna_samples")
    op.drop_table("dna_samples")
    for column in ("station_id", "person_id", "case_id"):
        op.drop_index(op.f(f"ix_police_checks_{column}"), table_name="police_checks")
    op.drop_table("police_checks")
