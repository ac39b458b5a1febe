"""A hospital placement open too long is flagged once (long_hospital_stay_reached):
the placement keeps when (long_stay_reached_at).

Revision ID: 0010longhospitalstay
Revises: 0009oneperson
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0010longhospitalstay"
down_revision: str | None = "0009oneperson"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column(
        "hospital_placements",
        sa.Column("long_stay_reached_at", sa.DateTime(timezone=True), nullable=True),
    )


def downgrade() -> None:
    op.drop_column("hospital_placements", "long_stay_reached_at")
