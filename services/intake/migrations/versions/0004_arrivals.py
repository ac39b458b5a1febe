"""Hotline leads, refusals of help, hospital placements (medical first).

Revision ID: 0004arrivals
Revises: 7022236d52ff
"""

from collections.abc import Sequence

import sqlalchemy as sa  # noqa: F401
import sqlmodel  # noqa: F401  (column types of SQLModel tables)
from alembic import op  # noqa: F401

revision: str = "0004arrivals"
down_revision: str | None = "7022236d52ff"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
