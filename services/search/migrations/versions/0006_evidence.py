"""Clues (520), missing-person reports, candidates and their review.

Revision ID: 0006evidence
Revises: 0005police
"""

from collections.abc import Sequence

import sqlalchemy as sa  # noqa: F401
import sqlmodel  # noqa: F401  (column types of SQLModel tables)
from alembic import op  # noqa: F401

revision: str = "0006evidence"
down_revision: str | None = "0005police"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
