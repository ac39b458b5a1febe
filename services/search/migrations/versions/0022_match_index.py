"""The matching index (issue 30): blocking keys and profiles of open cases and
reports, so that a new one is ranked against its candidates, not the open set.

The records open now are marked unresolved: the next report's matching (with the
gazetteer loaded) indexes their names and places (search.matching).

Revision ID: 0022matchindex
Revises: 0021auditchaining
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel  # noqa: F401  (column types of SQLModel tables)
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0022matchindex"
down_revision: str | None = "0021auditchaining"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _text(length: int):
    return sqlmodel.sql.sqltypes.AutoString(length=length)


def upgrade() -> None:
    op.create_table(
        "match_keys",
        sa.Column("record_kind", _text(10), nullable=False),
        sa.Column("record_id", sa.Uuid(), nullable=False),
        sa.Column("key", _text(200), nullable=False),
        sa.PrimaryKeyConstraint("record_kind", "record_id", "key"),
    )
    op.create_index(
        "ix_match_keys_kind_key", "match_keys", ["record_kind", "key", "record_id"], unique=False
    )
    op.create_table(
        "match_profiles",
        sa.Column("record_kind", _text(10), nullable=False),
        sa.Column("record_id", sa.Uuid(), nullable=False),
        sa.Column("sex", _text(10), nullable=True),
        sa.Column("age", sa.Integer(), nullable=True),
        sa.Column("born", sa.Integer(), nullable=True),
        sa.Column(
            "codes", postgresql.ARRAY(sa.String(length=12)), server_default="{}", nullable=False
        ),
        sa.Column("places_resolved", sa.Boolean(), nullable=False),
        sa.PrimaryKeyConstraint("record_kind", "record_id"),
    )
    op.create_index(
        "ix_match_profiles_unresolved",
        "match_profiles",
        ["record_kind"],
        unique=False,
        postgresql_where=sa.text("NOT places_resolved"),
    )
    # what is open now waits for the next report's matching to be indexed
    op.execute(
        "INSERT INTO match_profiles (record_kind, record_id, places_resolved) "
        "SELECT 'case', id, false FROM search_cases WHERE status = 'open' "
        "UNION ALL SELECT 'report', id, false FROM missing_person_reports WHERE status = 'open'"
    )


def downgrade() -> None:
    op.drop_index("ix_match_profiles_unresolved", table_name="match_profiles")
    op.drop_table("match_profiles")
    op.drop_index("ix_match_keys_kind_key", table_name="match_keys")
    op.drop_table("match_keys")
