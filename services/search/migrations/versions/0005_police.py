"""Police identity checks and DNA samples, with their answers and re-verification.

Revision ID: 0005police
Revises: 0004notices
"""

from collections.abc import Sequence

import sqlalchemy as sa  # noqa: F401
import sqlmodel  # noqa: F401  (column types of SQLModel tables)
from alembic import op  # noqa: F401

revision: str = "0005police"
down_revision: str | None = "0004notices"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
