"""Clues (520), missing-person reports, candidates and their review.

Revision ID: 0006evidence
Revises: 0005police
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel  # noqa: F401  (column types of SQLModel tables)
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0006evidence"
down_revision: str | None = "0005police"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _text(length: int):
    return sqlmodel.sql.sqltypes.AutoString(length=length)


def _strings(name: str) -> sa.Column:
    return sa.Column(name, postgresql.ARRAY(sa.String()), server_default="{}", nullable=False)


def upgrade() -> None:
    op.create_table(
        "clues",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("case_id", sa.Uuid(), nullable=False),
        sa.Column("station_id", _text(64), nullable=False),
        sa.Column("observed", _text(2000), nullable=True),
        sa.Column("dialect_heard", _text(2000), nullable=True),
        sa.Column("person_said", _text(2000), nullable=True),
        sa.Column("changes", _text(2000), nullable=True),
        sa.Column("group_judgment", _text(2000), nullable=True),
        _strings("names"),
        _strings("places"),
        sa.Column("apparent_sex", _text(10), nullable=True),
        sa.Column("apparent_age", sa.Integer(), nullable=True),
        sa.Column("author", _text(200), nullable=False),
        sa.Column("noted_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("recorded_by", _text(200), nullable=False),
        sa.Column("recorded_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["case_id"], ["search_cases.id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index(op.f("ix_clues_case_id"), "clues", ["case_id"], unique=False)

    op.create_table(
        "missing_person_reports",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("station_id", _text(64), nullable=False),
        sa.Column("status", _text(20), nullable=False),
        sa.Column("reported_name", _text(100), nullable=False),
        sa.Column("sex", _text(10), nullable=False),
        sa.Column("age", sa.Integer(), nullable=True),
        sa.Column("birth_year", sa.Integer(), nullable=True),
        sa.Column("description", _text(2000), nullable=True),
        sa.Column("last_seen_place", _text(300), nullable=False),
        sa.Column("last_seen_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("home_place", _text(300), nullable=True),
        sa.Column("contact_name", _text(100), nullable=False),
        sa.Column("contact_phone", _text(30), nullable=False),
        _strings("photo_refs"),
        sa.Column("reported_by", _text(200), nullable=False),
        sa.Column("reported_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("found_case_id", sa.Uuid(), nullable=True),
        sa.Column("closed_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id"),
    )
    for column in ("station_id", "status"):
        op.create_index(
            op.f(f"ix_missing_person_reports_{column}"),
            "missing_person_reports",
            [column],
            unique=False,
        )

    op.create_table(
        "identity_candidates",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("case_id", sa.Uuid(), nullable=False),
        sa.Column("report_id", sa.Uuid(), nullable=False),
        sa.Column("station_id", _text(64), nullable=False),
        sa.Column("report_station_id", _text(64), nullable=False),
        sa.Column("status", _text(20), nullable=False),
        sa.Column("score", sa.Float(), nullable=False),
        _strings("reasons"),
        sa.Column("proposed_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("reviewed_by", _text(200), nullable=True),
        sa.Column("reviewed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("rejection_reason", _text(500), nullable=True),
        sa.ForeignKeyConstraint(["case_id"], ["search_cases.id"]),
        sa.ForeignKeyConstraint(["report_id"], ["missing_person_reports.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("case_id", "report_id"),
    )
    for column in ("case_id", "report_id", "station_id", "report_station_id", "status"):
        op.create_index(
            op.f(f"ix_identity_candidates_{column}"), "identity_candidates", [column], unique=False
        )

    op.create_table(
        "identity_evidence",
        sa.Column("case_id", sa.Uuid(), nullable=False),
        sa.Column("national_id_number", _text(18), nullable=True),
        sa.Column("evidence", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("candidate_id", sa.Uuid(), nullable=True),
        sa.Column("confirmed_by", _text(200), nullable=False),
        sa.Column("confirmed_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["case_id"], ["search_cases.id"]),
        sa.ForeignKeyConstraint(["candidate_id"], ["identity_candidates.id"]),
        sa.PrimaryKeyConstraint("case_id"),
    )


def downgrade() -> None:
    op.drop_table("identity_evidence")
    for column in ("status", "report_station_id", "station_id", "report_id", "case_id"):
        op.drop_index(op.f(f"ix_identity_candidates_{column}"), table_name="identity_candidates")
    op.drop_table("identity_candidates")
    for column in ("status", "station_id"):
        op.drop_index(
            op.f(f"ix_missing_person_reports_{column}"), table_name="missing_person_reports"
        )
    op.drop_table("missing_person_reports")
    op.drop_index(op.f("ix_clues_case_id"), table_name="clues")
    op.drop_table("clues")
