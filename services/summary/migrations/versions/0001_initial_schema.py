"""initial schema: the facts of the summary tables, submissions to the national
system, rebuilds; the chassis' plumbing and audit trail.

Revision ID: 0001initial
Revises:
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel  # noqa: F401  (column types of SQLModel tables)
from alembic import op
from sqlalchemy.dialects import postgresql

from rescue_chassis.audit import create_audit_v1, drop_audit_v1
from rescue_chassis.migrations import (
    create_plumbing_v1,
    create_plumbing_v2,
    drop_plumbing_v1,
    drop_plumbing_v2,
)

revision: str = "0001initial"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

AutoString = sqlmodel.sql.sqltypes.AutoString


def upgrade() -> None:
    create_plumbing_v1()
    create_plumbing_v2()
    create_audit_v1()
    op.create_table(
        "facts",
        sa.Column("event_id", AutoString(length=64), nullable=False),
        sa.Column("kind", AutoString(length=40), nullable=False),
        sa.Column("station_id", AutoString(length=64), nullable=True),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("other_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("person_id", sa.Uuid(), nullable=True),
        sa.Column("ref", sa.Uuid(), nullable=True),
        sa.Column("ref2", sa.Uuid(), nullable=True),
        sa.Column("detail", AutoString(length=64), nullable=True),
        sa.Column("tags", postgresql.ARRAY(sa.String(length=64)), nullable=False),
        sa.Column("number", sa.Integer(), nullable=True),
        sa.Column("flag", sa.Boolean(), nullable=True),
        sa.Column("dates", postgresql.ARRAY(sa.Date()), nullable=False),
        sa.PrimaryKeyConstraint("event_id"),
    )
    op.create_index("ix_facts_kind_at", "facts", ["kind", "at"], unique=False)
    op.create_index("ix_facts_ref", "facts", ["ref"], unique=False)
    op.create_index("ix_facts_ref2", "facts", ["ref2"], unique=False)
    op.create_index("ix_facts_person_id", "facts", ["person_id"], unique=False)
    op.create_table(
        "submissions",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("month", AutoString(length=7), nullable=False),
        sa.Column("requested_by", AutoString(length=200), nullable=False),
        sa.Column("requested_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("table", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("status", AutoString(length=20), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("next_attempt_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_error", AutoString(length=300), nullable=True),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("receipt_id", AutoString(length=200), nullable=True),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index(op.f("ix_submissions_month"), "submissions", ["month"], unique=False)
    op.create_table(
        "rebuilds",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("requested_by", AutoString(length=200), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("status", AutoString(length=20), nullable=False),
        sa.Column("records_read", sa.Integer(), nullable=False),
        sa.Column("facts", sa.Integer(), nullable=True),
        sa.Column("error", AutoString(length=500), nullable=True),
        sa.PrimaryKeyConstraint("id"),
    )


def downgrade() -> None:
    op.drop_table("rebuilds")
    op.drop_index(op.f("ix_submissions_month"), table_name="submissions")
    op.drop_table("submissions")
    op.drop_index("ix_facts_person_id", table_name="facts")
    op.drop_index("ix_facts_ref2", table_name="facts")
    op.drop_index("ix_facts_ref", table_name="facts")
    op.drop_index("ix_facts_kind_at", table_name="facts")
    op.drop_table("facts")
    drop_audit_v1()
    drop_plumbing_v2()
    drop_plumbing_v1()
