"""The person-name index: readings of every name of the network, for homophone search.

Revision ID: 0009names
Revises: 0008faces
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel  # noqa: F401  (column types of SQLModel tables)
from alembic import op

revision: str = "0009names"
down_revision: str | None = "0008faces"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _text(length: int):
    return sqlmodel.sql.sqltypes.AutoString(length=length)


def upgrade() -> None:
    op.create_table(
        "name_index",
        sa.Column("record_kind", _text(10), nullable=False),
        sa.Column("record_id", sa.Uuid(), nullable=False),
        sa.Column("name", _text(100), nullable=False),
        sa.Column("reading", _text(400), nullable=False),
        sa.Column("person_id", sa.Uuid(), nullable=True),
        sa.Column("station_id", _text(64), nullable=False),
        sa.Column("loose_key", _text(400), nullable=False),
        sa.Column("given_loose_key", _text(400), nullable=False),
        sa.Column("indexed_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("record_kind", "record_id", "name", "reading"),
    )
    for column in ("loose_key", "given_loose_key"):
        op.create_index(op.f(f"ix_name_index_{column}"), "name_index", [column], unique=False)


def downgrade() -> None:
    for column in ("given_loose_key", "loose_key"):
        op.drop_index(op.f(f"ix_name_index_{column}"), table_name="name_index")
    op.drop_table("name_index")
