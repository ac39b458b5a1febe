"""Family-search notices and their publications; protection marks and overrides.

Revision ID: 0004notices
Revises: 5ced7a821550
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel  # noqa: F401  (column types of SQLModel tables)
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0004notices"
down_revision: str | None = "5ced7a821550"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _s(length: int):
    return sqlmodel.sql.sqltypes.AutoString(length=length)


def upgrade() -> None:
    op.create_table(
        "search_notices",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("case_id", sa.Uuid(), nullable=False),
        sa.Column("person_id", sa.Uuid(), nullable=False),
        sa.Column("station_id", _s(64), nullable=False),
        sa.Column("kind", _s(20), nullable=False),
        sa.Column("region", _s(100), nullable=True),
        sa.Column("region_basis", _s(20), nullable=True),
        sa.Column("status", _s(20), nullable=False),
        sa.Column("payload", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("external_id", _s(200), nullable=True),
        sa.Column("requested_by", _s(200), nullable=False),
        sa.Column("requested_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("published_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("failed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_error", _s(300), nullable=True),
        sa.Column("override_id", sa.Uuid(), nullable=True),
        sa.Column("takedown_reason", _s(100), nullable=True),
        sa.Column("takedown_requested_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("taken_down_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(["case_id"], ["search_cases.id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    for column in ("case_id", "person_id", "station_id", "status"):
        op.create_index(
            op.f(f"ix_search_notices_{column}"), "search_notices", [column], unique=False
        )
    op.create_table(
        "search_notice_protections",
        sa.Column("case_id", sa.Uuid(), nullable=False),
        sa.Column("endangered", sa.Boolean(), nullable=False),
        sa.Column("endangered_reason", _s(1000), nullable=True),
        sa.Column("marked_by", _s(200), nullable=True),
        sa.Column("marked_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("closed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("closed_reason", _s(100), nullable=True),
        sa.ForeignKeyConstraint(["case_id"], ["search_cases.id"]),
        sa.PrimaryKeyConstraint("case_id"),
    )
    op.create_table(
        "search_notice_overrides",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("case_id", sa.Uuid(), nullable=False),
        sa.Column("reason", _s(1000), nullable=False),
        sa.Column("authorised_by", _s(200), nullable=False),
        sa.Column("authorised_role", _s(40), nullable=False),
        sa.Column("authorised_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["case_id"], ["search_cases.id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index(
        op.f("ix_search_notice_overrides_case_id"),
        "search_notice_overrides",
        ["case_id"],
        unique=False,
    )


def downgrade() -> None:
    op.drop_index(op.f("ix_search_notice_overrides_case_id"), table_name="search_notice_overrides")
    op.drop_table("search_notice_overrides")
    op.drop_table("search_notice_protections")
    for column in ("status", "station_id", "person_id", "case_id"):
        op.drop_index(op.f(f"ix_search_notices_{column}"), table_name="search_notices")
    op.drop_table("search_notices")
