"""Police identity checks (issue 28): the face photo asked about by intake's photo
id (fetched through a signed link), and the passing up of an `unverifiable`
answer to the next police level (逐级上报).

Revision ID: 0017policeescalation
Revises: 0016refusalfaces
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel  # noqa: F401  (column types of SQLModel tables)
from alembic import op

revision: str = "0017policeescalation"
down_revision: str | None = "0016refusalfaces"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TABLE = "police_checks"


def upgrade() -> None:
    op.add_column(TABLE, sa.Column("face_photo_id", sa.Uuid(), nullable=True))
    op.add_column(TABLE, sa.Column("escalates_request_id", sa.Uuid(), nullable=True))
    op.add_column(TABLE, sa.Column("escalated_to_request_id", sa.Uuid(), nullable=True))
    op.add_column(
        TABLE,
        sa.Column("escalation", sqlmodel.sql.sqltypes.AutoString(length=20), nullable=True),
    )
    op.create_foreign_key(
        "police_checks_escalates_request_id_fkey",
        TABLE,
        TABLE,
        ["escalates_request_id"],
        ["id"],
    )
    op.create_index(op.f("ix_police_checks_escalation"), TABLE, ["escalation"], unique=False)


def downgrade() -> None:
    op.drop_index(op.f("ix_police_checks_escalation"), table_name=TABLE)
    op.drop_constraint("police_checks_escalates_request_id_fkey", TABLE, type_="foreignkey")
    for column in (
        "escalation",
        "escalated_to_request_id",
        "escalates_request_id",
        "face_photo_id",
    ):
        op.drop_column(TABLE, column)
