"""The faces of persons who refused help (issue 25), one row per intake refusal
photo so each is compared once: its embedding (pgvector, no index: refusals are
few and compared exactly), or why there is none.

Revision ID: 0016refusalfaces
Revises: 0015escalations
"""

from collections.abc import Sequence

import pgvector.sqlalchemy
import sqlalchemy as sa
import sqlmodel  # noqa: F401  (column types of SQLModel tables)
from alembic import op

revision: str = "0016refusalfaces"
down_revision: str | None = "0015escalations"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _text(length: int):
    return sqlmodel.sql.sqltypes.AutoString(length=length)


def upgrade() -> None:
    op.create_table(
        "refusal_faces",
        sa.Column("photo_id", sa.Uuid(), nullable=False),
        sa.Column("refusal_id", sa.Uuid(), nullable=False),
        sa.Column("person_id", sa.Uuid(), nullable=False),
        sa.Column("station_id", _text(64), nullable=False),
        sa.Column("sha256", _text(64), nullable=False),
        sa.Column("status", _text(20), nullable=False),
        sa.Column("reason", _text(500), nullable=True),
        sa.Column("candidates", sa.Integer(), nullable=False),
        sa.Column("encoder", _text(60), nullable=True),
        sa.Column("embedding", pgvector.sqlalchemy.Vector(128), nullable=True),
        sa.Column("photographed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("photo_id"),
    )
    for column in ("refusal_id", "person_id"):
        op.create_index(op.f(f"ix_refusal_faces_{column}"), "refusal_faces", [column])


def downgrade() -> None:
    for column in ("person_id", "refusal_id"):
        op.drop_index(op.f(f"ix_refusal_faces_{column}"), table_name="refusal_faces")
    op.drop_table("refusal_faces")
