"""The admitted person's sex and estimated age on the case (notices, police checks
and matching default to them).

Revision ID: 0007casesexage
Revises: 0006evidence
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel  # noqa: F401  (column types of SQLModel tables)
from alembic import op

revision: str = "0007casesexage"
down_revision: str | None = "0006evidence"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # Existing cases: not known here (intake has it); new cases carry it.
    op.add_column(
        "search_cases", sa.Column("sex", sqlmodel.sql.sqltypes.AutoString(length=10), nullable=True)
    )
    op.add_column("search_cases", sa.Column("estimated_age", sa.Integer(), nullable=True))


def downgrade() -> None:
    op.drop_column("search_cases", "estimated_age")
    op.drop_column("search_cases", "sex")
