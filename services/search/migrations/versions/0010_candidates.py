"""Candidates with their field-by-field explanation; face-match suggestions of earlier stays.

Revision ID: 0010candidates
Revises: 0009names
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel  # noqa: F401  (column types of SQLModel tables)
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0010candidates"
down_revision: str | None = "0009names"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _text(length: int):
    return sqlmodel.sql.sqltypes.AutoString(length=length)


def upgrade() -> None:
    # Candidates proposed before the engine keep their reasons and no findings.
    op.add_column(
        "identity_candidates",
        sa.Column(
            "explanation",
            postgresql.JSONB(astext_type=sa.Text()),
            server_default="[]",
            nullable=False,
        ),
    )
    op.create_table(
        "earlier_stay_suggestions",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("case_id", sa.Uuid(), nullable=False),
        sa.Column("station_id", _text(64), nullable=False),
        sa.Column("earlier_person_id", sa.Uuid(), nullable=False),
        sa.Column("method", _text(40), nullable=False),
        sa.Column("similarity", sa.Float(), nullable=False),
        sa.Column("trail", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("status", _text(20), nullable=False),
        sa.Column("suggested_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("reviewed_by", _text(200), nullable=True),
        sa.Column("reviewed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("rejection_reason", _text(500), nullable=True),
        sa.ForeignKeyConstraint(["case_id"], ["search_cases.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("case_id", "earlier_person_id"),
    )
    for column in ("case_id", "station_id", "status"):
        op.create_index(
            op.f(f"ix_earlier_stay_suggestions_{column}"), "earlier_stay_suggestions", [column]
        )


def downgrade() -> None:
    op.drop_table("earlier_stay_suggestions")
    op.drop_column("identity_candidates", "explanation")
