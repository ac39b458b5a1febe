"""Photos, belongings, health checks, outsourced care and visits, the settlement procedure.

Revision ID: 0005recordcare
Revises: 0004arrivals
"""

from collections.abc import Sequence

import sqlalchemy as sa  # noqa: F401
import sqlmodel  # noqa: F401  (column types of SQLModel tables)
from alembic import op  # noqa: F401

revision: str = "0005recordcare"
down_revision: str | None = "0004arrivals"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
