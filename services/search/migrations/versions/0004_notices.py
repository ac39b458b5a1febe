"""Family-search notices and their publications; protection marks and overrides.

Revision ID: 0004notices
Revises: 5ced7a821550
"""

from collections.abc import Sequence

import sqlalchemy as sa  # noqa: F401
import sqlmodel  # noqa: F401  (column types of SQLModel tables)
from alembic import op  # noqa: F401

revision: str = "0004notices"
down_revision: str | None = "5ced7a821550"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
