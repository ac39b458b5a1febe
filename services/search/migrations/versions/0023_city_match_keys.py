"""Places block by city, not province (issue 30): a pair agreeing only on a province
is no longer proposed (search.ranking), so the matching index keys places by city
(``c|4115``) and drops the province keys (``p|41``). Places known only to their
province get no key.

Revision ID: 0023citymatchkeys
Revises: 0022matchindex
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0023citymatchkeys"
down_revision: str | None = "0022matchindex"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.execute("DELETE FROM match_keys WHERE key LIKE 'p|%'")
    # ON CONFLICT: a record stored by the new code already has its city keys
    op.execute(
        "INSERT INTO match_keys (record_kind, record_id, key) "
        "SELECT DISTINCT p.record_kind, p.record_id, 'c|' || left(c, 4) "
        "FROM match_profiles p CROSS JOIN LATERAL unnest(p.codes) AS c "
        "WHERE length(c) >= 4 "
        "ON CONFLICT DO NOTHING"
    )


def downgrade() -> None:
    op.execute("DELETE FROM match_keys WHERE key LIKE 'c|%'")
    op.execute(
        "INSERT INTO match_keys (record_kind, record_id, key) "
        "SELECT DISTINCT p.record_kind, p.record_id, 'p|' || left(c, 2) "
        "FROM match_profiles p CROSS JOIN LATERAL unnest(p.codes) AS c "
        "WHERE length(c) >= 2 "
        "ON CONFLICT DO NOTHING"
    )
