"""One person, one case (issue 25): the stations the case has been at (an earlier
station keeps reading it), how the last stay ended, and why a task was closed.

Revision ID: 0014onecase
Revises: 0013outboxretention
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel  # noqa: F401  (column types of SQLModel tables)
from alembic import op

revision: str = "0014onecase"
down_revision: str | None = "0013outboxretention"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _s(length: int):
    return sqlmodel.sql.sqltypes.AutoString(length=length)


def upgrade() -> None:
    op.create_table(
        "search_case_stations",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("case_id", sa.Uuid(), nullable=False),
        sa.Column("station_id", _s(64), nullable=False),
        sa.Column("from_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("to_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(["case_id"], ["search_cases.id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    for column in ("case_id", "station_id"):
        op.create_index(
            op.f(f"ix_search_case_stations_{column}"),
            "search_case_stations",
            [column],
            unique=False,
        )
    op.add_column("search_cases", sa.Column("ending", _s(20), nullable=True))
    op.add_column("search_cases", sa.Column("ended_at", sa.DateTime(timezone=True), nullable=True))
    # Existing cancelled tasks: cancelled by an identity confirmation (the only way so far).
    op.add_column("search_tasks", sa.Column("closed_reason", _s(40), nullable=True))
    op.execute("UPDATE search_tasks SET closed_reason = 'identified' WHERE status = 'cancelled'")


def downgrade() -> None:
    op.drop_column("search_tasks", "closed_reason")
    op.drop_column("search_cases", "ended_at")
    op.drop_column("search_cases", "ending")
    for column in ("station_id", "case_id"):
        op.drop_index(op.f(f"ix_search_case_stations_{column}"), table_name="search_case_stations")
    op.drop_table("search_case_stations")
