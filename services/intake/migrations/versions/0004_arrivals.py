"""Hotline leads, refusals of help, hospital placements (medical first).

Revision ID: 0004arrivals
Revises: 7022236d52ff
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel  # noqa: F401  (column types of SQLModel tables)
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0004arrivals"
down_revision: str | None = "7022236d52ff"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _text(length: int) -> sqlmodel.sql.sqltypes.AutoString:
    return sqlmodel.sql.sqltypes.AutoString(length=length)


def _at() -> sa.DateTime:
    return sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "leads",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("person_id", sa.Uuid(), nullable=False),
        sa.Column("station_id", _text(64), nullable=False),
        sa.Column("status", _text(20), nullable=False),
        sa.Column("caller_name", _text(100), nullable=True),
        sa.Column("caller_phone", _text(30), nullable=True),
        sa.Column("reported", _text(2000), nullable=False),
        sa.Column("place", _text(300), nullable=False),
        sa.Column("seen_at", _at(), nullable=True),
        sa.Column("received_at", _at(), nullable=False),
        sa.Column("received_by", _text(200), nullable=False),
        sa.Column("priority", _text(20), nullable=True),
        sa.Column("triage_note", _text(2000), nullable=True),
        sa.Column("triaged_at", _at(), nullable=True),
        sa.Column("triaged_by", _text(200), nullable=True),
        sa.Column("assigned_to", _text(200), nullable=True),
        sa.Column("assigned_at", _at(), nullable=True),
        sa.Column("assigned_by", _text(200), nullable=True),
        sa.Column("outcome", _text(30), nullable=True),
        sa.Column("closure_note", _text(2000), nullable=True),
        sa.Column("closed_at", _at(), nullable=True),
        sa.Column("closed_by", _text(200), nullable=True),
        sa.Column("stay_id", sa.Uuid(), nullable=True),
        sa.ForeignKeyConstraint(["stay_id"], ["stays.id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index(op.f("ix_leads_station_id"), "leads", ["station_id"], unique=False)
    op.create_index(op.f("ix_leads_status"), "leads", ["status"], unique=False)

    op.create_table(
        "refusals",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("person_id", sa.Uuid(), nullable=False),
        sa.Column("station_id", _text(64), nullable=False),
        sa.Column("found_place", _text(300), nullable=False),
        sa.Column("found_at", _at(), nullable=False),
        sa.Column("description", _text(2000), nullable=False),
        sa.Column("name", _text(100), nullable=True),
        sa.Column("advice_given", _text(2000), nullable=False),
        sa.Column("recorded_by", _text(100), nullable=False),
        sa.Column("escorting_unit", _text(100), nullable=True),
        sa.Column("recorded_at", _at(), nullable=False),
        sa.Column("entered_by", _text(200), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index(op.f("ix_refusals_station_id"), "refusals", ["station_id"], unique=False)

    op.create_table(
        "hospital_placements",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("person_id", sa.Uuid(), nullable=False),
        sa.Column("station_id", _text(64), nullable=False),
        sa.Column("status", _text(20), nullable=False),
        sa.Column("hospital", _text(200), nullable=False),
        sa.Column("conditions", postgresql.ARRAY(sa.String()), nullable=False),
        sa.Column("placed_at", _at(), nullable=False),
        sa.Column("escorting_unit", _text(100), nullable=True),
        sa.Column("sex", _text(10), nullable=False),
        sa.Column("estimated_age", sa.Integer(), nullable=True),
        sa.Column("stated_names", postgresql.ARRAY(sa.String()), nullable=False),
        sa.Column("stated_places", postgresql.ARRAY(sa.String()), nullable=False),
        sa.Column("dialect", _text(100), nullable=True),
        sa.Column("physical_description", _text(2000), nullable=True),
        sa.Column("categories", postgresql.ARRAY(sa.String()), nullable=False),
        sa.Column("placed_by", _text(200), nullable=False),
        sa.Column("recorded_at", _at(), nullable=False),
        sa.Column("discharged_at", _at(), nullable=True),
        sa.Column("discharge_reference", _text(100), nullable=True),
        sa.Column("discharged_by", _text(200), nullable=True),
        sa.Column("stay_id", sa.Uuid(), nullable=True),
        sa.ForeignKeyConstraint(["stay_id"], ["stays.id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index(
        op.f("ix_hospital_placements_station_id"),
        "hospital_placements",
        ["station_id"],
        unique=False,
    )
    op.create_index(
        op.f("ix_hospital_placements_status"), "hospital_placements", ["status"], unique=False
    )

    op.create_table(
        "hospital_screenings",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("placement_id", sa.Uuid(), nullable=False),
        sa.Column("screened_at", _at(), nullable=False),
        sa.Column("notes", _text(2000), nullable=False),
        sa.Column("full_name", _text(100), nullable=True),
        sa.Column("stated_places", postgresql.ARRAY(sa.String()), nullable=False),
        sa.Column("screened_by", _text(200), nullable=False),
        sa.Column("recorded_at", _at(), nullable=False),
        sa.ForeignKeyConstraint(["placement_id"], ["hospital_placements.id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index(
        op.f("ix_hospital_screenings_placement_id"),
        "hospital_screenings",
        ["placement_id"],
        unique=False,
    )

    op.create_table(
        "stay_sources",
        sa.Column("stay_id", sa.Uuid(), nullable=False),
        sa.Column("kind", _text(20), nullable=False),
        sa.Column("hospital", _text(200), nullable=True),
        sa.Column("discharge_reference", _text(100), nullable=True),
        sa.Column("station_id", _text(64), nullable=True),
        sa.Column("station_name", _text(100), nullable=True),
        sa.Column("transfer_reference", _text(100), nullable=True),
        sa.Column("placement_id", sa.Uuid(), nullable=True),
        sa.ForeignKeyConstraint(["placement_id"], ["hospital_placements.id"]),
        sa.ForeignKeyConstraint(["stay_id"], ["stays.id"]),
        sa.PrimaryKeyConstraint("stay_id"),
    )


def downgrade() -> None:
    op.drop_table("stay_sources")
    op.drop_index(op.f("ix_hospital_screenings_placement_id"), table_name="hospital_screenings")
    op.drop_table("hospital_screenings")
    op.drop_index(op.f("ix_hospital_placements_status"), table_name="hospital_placements")
    op.drop_index(op.f("ix_hospital_placements_station_id"), table_name="hospital_placements")
    op.drop_table("hospital_placements")
    op.drop_index(op.f("ix_refusals_station_id"), table_name="refusals")
    op.drop_table("refusals")
    op.drop_index(op.f("ix_leads_status"), table_name="leads")
    op.drop_index(op.f("ix_leads_station_id"), table_name="leads")
    op.drop_table("leads")
