"""Inbound return notices from other regions' stations (inbound_returns), the
stabilisation records they open (source, inbound_return_id; return_id,
escort_station_id and received_by unknown for them), and who recorded a revisit
(recorded_by_role: a town official or a station role).

Revision ID: 0005inboundreturns
Revises: 0004outboxretention
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel  # noqa: F401  (column types of SQLModel tables)
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0005inboundreturns"
down_revision: str | None = "0004outboxretention"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _text(length: int):
    return sqlmodel.sql.sqltypes.AutoString(length=length)


def upgrade() -> None:
    op.create_table(
        "inbound_returns",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("person_id", sa.Uuid(), nullable=False),
        sa.Column("station_id", _text(64), nullable=False),
        sa.Column("channel", _text(10), nullable=False),
        sa.Column("sending_station", _text(100), nullable=False),
        sa.Column("sending_region", _text(100), nullable=False),
        sa.Column("reference", _text(64), nullable=False),
        sa.Column("full_name", _text(100), nullable=False),
        sa.Column("sex", _text(10), nullable=False),
        sa.Column("birth_year", sa.Integer(), nullable=True),
        sa.Column("age", sa.Integer(), nullable=True),
        sa.Column("national_id_number", sa.Text(), nullable=True),
        sa.Column("home_province", _text(50), nullable=False),
        sa.Column("home_address", _text(300), nullable=False),
        sa.Column("home_admin_code", _text(12), nullable=False),
        sa.Column("expected_arrival_on", sa.Date(), nullable=False),
        sa.Column("escort", _text(300), nullable=True),
        sa.Column("categories", postgresql.ARRAY(sa.String()), nullable=False),
        sa.Column("notified_by", _text(200), nullable=False),
        sa.Column("notified_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("person_id"),
        sa.UniqueConstraint("sending_station", "reference"),
    )
    op.create_index(
        op.f("ix_inbound_returns_station_id"), "inbound_returns", ["station_id"], unique=False
    )
    op.add_column(
        "stabilisation_records",
        sa.Column("source", _text(20), nullable=False, server_default="handover"),
    )
    op.alter_column("stabilisation_records", "source", server_default=None)
    op.add_column("stabilisation_records", sa.Column("inbound_return_id", sa.Uuid(), nullable=True))
    op.create_foreign_key(
        "stabilisation_records_inbound_return_id_fkey",
        "stabilisation_records",
        "inbound_returns",
        ["inbound_return_id"],
        ["id"],
    )
    for column, type_ in (
        ("return_id", sa.Uuid()),
        ("escort_station_id", _text(64)),
        ("received_by", _text(100)),
    ):
        op.alter_column("stabilisation_records", column, existing_type=type_, nullable=True)
    op.add_column("revisits", sa.Column("recorded_by_role", _text(30), nullable=True))


def downgrade() -> None:
    op.drop_column("revisits", "recorded_by_role")
    inbound = "SELECT id FROM stabilisation_records WHERE source = 'inbound_return'"
    for table in (
        "revisits",
        "help_tasks",
        "risk_assessments",
        "help_plans",
        "social_work_services",
        "repeat_wanderings",
        "at_risk_register",
    ):
        op.execute(f"DELETE FROM {table} WHERE record_id IN ({inbound})")
    op.execute("DELETE FROM stabilisation_records WHERE source = 'inbound_return'")
    for column, type_ in (
        ("return_id", sa.Uuid()),
        ("escort_station_id", _text(64)),
        ("received_by", _text(100)),
    ):
        op.alter_column("stabilisation_records", column, existing_type=type_, nullable=False)
    op.drop_constraint(
        "stabilisation_records_inbound_return_id_fkey", "stabilisation_records", type_="foreignkey"
    )
    op.drop_column("stabilisation_records", "inbound_return_id")
    op.drop_column("stabilisation_records", "source")
    op.drop_index(op.f("ix_inbound_returns_station_id"), table_name="inbound_returns")
    op.drop_table("inbound_returns")
