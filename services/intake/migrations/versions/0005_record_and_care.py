"""Photos, belongings, health checks, outsourced care and visits, the settlement procedure.

Revision ID: 0005recordcare
Revises: 0004arrivals
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel  # noqa: F401  (column types of SQLModel tables)
from alembic import op

revision: str = "0005recordcare"
down_revision: str | None = "0004arrivals"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _text(length: int, nullable: bool = False) -> dict:
    return {"type_": sqlmodel.sql.sqltypes.AutoString(length=length), "nullable": nullable}


def _moment(name: str, nullable: bool = False) -> sa.Column:
    return sa.Column(name, sa.DateTime(timezone=True), nullable=nullable)


def upgrade() -> None:
    op.create_table(
        "person_photos",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("person_id", sa.Uuid(), nullable=False),
        sa.Column("stay_id", sa.Uuid(), nullable=True),
        sa.Column("station_id", **_text(64)),
        sa.Column("kind", **_text(20)),
        sa.Column("content_type", **_text(20)),
        sa.Column("size_bytes", sa.Integer(), nullable=False),
        sa.Column("sha256", **_text(64)),
        sa.Column("image", sa.LargeBinary(), nullable=False),
        _moment("taken_at"),
        sa.Column("added_by", **_text(200)),
        _moment("added_at"),
        sa.ForeignKeyConstraint(["person_id"], ["persons.id"]),
        sa.ForeignKeyConstraint(["stay_id"], ["stays.id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index(op.f("ix_person_photos_person_id"), "person_photos", ["person_id"])
    op.create_index(op.f("ix_person_photos_station_id"), "person_photos", ["station_id"])
    op.create_index(op.f("ix_person_photos_sha256"), "person_photos", ["sha256"])

    op.create_table(
        "belongings",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("person_id", sa.Uuid(), nullable=False),
        sa.Column("stay_id", sa.Uuid(), nullable=False),
        sa.Column("station_id", **_text(64)),
        sa.Column("description", **_text(300)),
        sa.Column("quantity", sa.Integer(), nullable=False),
        sa.Column("condition", **_text(300, nullable=True)),
        sa.Column("notes", **_text(1000, nullable=True)),
        _moment("received_at"),
        sa.Column("recorded_by", **_text(200)),
        _moment("recorded_at"),
        _moment("returned_at", nullable=True),
        sa.Column("returned_by", **_text(200, nullable=True)),
        sa.Column("return_note", **_text(2000, nullable=True)),
        sa.ForeignKeyConstraint(["person_id"], ["persons.id"]),
        sa.ForeignKeyConstraint(["stay_id"], ["stays.id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index(op.f("ix_belongings_person_id"), "belongings", ["person_id"])
    op.create_index(op.f("ix_belongings_stay_id"), "belongings", ["stay_id"])

    op.create_table(
        "health_checks",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("person_id", sa.Uuid(), nullable=False),
        sa.Column("stay_id", sa.Uuid(), nullable=False),
        sa.Column("station_id", **_text(64)),
        _moment("checked_at"),
        sa.Column("checked_by", **_text(200)),
        sa.Column("temperature_c", sa.Float(), nullable=True),
        sa.Column("systolic_mmhg", sa.Integer(), nullable=True),
        sa.Column("diastolic_mmhg", sa.Integer(), nullable=True),
        sa.Column("pulse_per_minute", sa.Integer(), nullable=True),
        sa.Column("injuries", **_text(2000, nullable=True)),
        sa.Column("infectious_screening", **_text(20)),
        sa.Column("infectious_notes", **_text(1000, nullable=True)),
        sa.Column("notes", **_text(2000, nullable=True)),
        sa.Column("recorded_by", **_text(200)),
        _moment("recorded_at"),
        sa.ForeignKeyConstraint(["person_id"], ["persons.id"]),
        sa.ForeignKeyConstraint(["stay_id"], ["stays.id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index(op.f("ix_health_checks_person_id"), "health_checks", ["person_id"])

    op.create_table(
        "outsourced_care",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("person_id", sa.Uuid(), nullable=False),
        sa.Column("stay_id", sa.Uuid(), nullable=False),
        sa.Column("station_id", **_text(64)),
        sa.Column("institution", **_text(200)),
        sa.Column("address", **_text(300)),
        sa.Column("reason", **_text(2000)),
        _moment("started_at"),
        sa.Column("started_by", **_text(200)),
        sa.Column("health_status", **_text(1000, nullable=True)),
        sa.Column("search_progress", **_text(2000, nullable=True)),
        _moment("last_visited_at", nullable=True),
        _moment("ended_at", nullable=True),
        sa.Column("outcome", **_text(20, nullable=True)),
        sa.Column("end_note", **_text(2000, nullable=True)),
        sa.Column("ended_by", **_text(200, nullable=True)),
        sa.ForeignKeyConstraint(["person_id"], ["persons.id"]),
        sa.ForeignKeyConstraint(["stay_id"], ["stays.id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index(op.f("ix_outsourced_care_person_id"), "outsourced_care", ["person_id"])
    op.create_index(op.f("ix_outsourced_care_station_id"), "outsourced_care", ["station_id"])

    op.create_table(
        "outsourced_care_visits",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("care_id", sa.Uuid(), nullable=False),
        sa.Column("person_id", sa.Uuid(), nullable=False),
        _moment("visited_at"),
        sa.Column("visited_by", **_text(200)),
        sa.Column("health_status", **_text(1000)),
        sa.Column("search_progress", **_text(2000, nullable=True)),
        sa.Column("recorded_by", **_text(200)),
        _moment("recorded_at"),
        sa.ForeignKeyConstraint(["care_id"], ["outsourced_care.id"]),
        sa.ForeignKeyConstraint(["person_id"], ["persons.id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index(
        op.f("ix_outsourced_care_visits_care_id"), "outsourced_care_visits", ["care_id"]
    )

    op.create_table(
        "settlement_steps",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("person_id", sa.Uuid(), nullable=False),
        sa.Column("stay_id", sa.Uuid(), nullable=False),
        sa.Column("station_id", **_text(64)),
        sa.Column("step", **_text(30)),
        sa.Column("number", sa.Integer(), nullable=False),
        sa.Column("done_on", sa.Date(), nullable=False),
        sa.Column("done_by", **_text(200)),
        sa.Column("note", **_text(2000, nullable=True)),
        sa.Column("recorded_by", **_text(200)),
        _moment("recorded_at"),
        sa.ForeignKeyConstraint(["person_id"], ["persons.id"]),
        sa.ForeignKeyConstraint(["stay_id"], ["stays.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("stay_id", "step"),
    )
    op.create_index(op.f("ix_settlement_steps_person_id"), "settlement_steps", ["person_id"])


def downgrade() -> None:
    op.drop_index(op.f("ix_settlement_steps_person_id"), table_name="settlement_steps")
    op.drop_table("settlement_steps")
    op.drop_index(op.f("ix_outsourced_care_visits_care_id"), table_name="outsourced_care_visits")
    op.drop_table("outsourced_care_visits")
    op.drop_index(op.f("ix_outsourced_care_station_id"), table_name="outsourced_care")
    op.drop_index(op.f("ix_outsourced_care_person_id"), table_name="outsourced_care")
    op.drop_table("outsourced_care")
    op.drop_index(op.f("ix_health_checks_person_id"), table_name="health_checks")
    op.drop_table("health_checks")
    op.drop_index(op.f("ix_belongings_stay_id"), table_name="belongings")
    op.drop_index(op.f("ix_belongings_person_id"), table_name="belongings")
    op.drop_table("belongings")
    op.drop_index(op.f("ix_person_photos_sha256"), table_name="person_photos")
    op.drop_index(op.f("ix_person_photos_station_id"), table_name="person_photos")
    op.drop_index(op.f("ix_person_photos_person_id"), table_name="person_photos")
    op.drop_table("person_photos")
