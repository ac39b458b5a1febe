"""Refusals linked to a person (issue 25): the id a refusal was announced under
(first_person_id), its name normalised for matching (name_key), when and by whom
it was linked; refusals looked up by person. Burials: where the remains of a
person who died went, one per person.

Revision ID: 0011refusalsburials
Revises: 0010longhospitalstay
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel  # noqa: F401  (column types of SQLModel tables)
from alembic import op

revision: str = "0011refusalsburials"
down_revision: str | None = "0010longhospitalstay"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# intake.refusal_names.name_key in SQL, as it was when this revision was written.
NAME_KEY = "nullif(lower(translate(normalize(name, NFKC), :dropped, '')), '')"
DROPPED = " \t\r\n·•・‧.-_'"


def _text(length: int):
    return sqlmodel.sql.sqltypes.AutoString(length=length)


def _at() -> sa.DateTime:
    return sa.DateTime(timezone=True)


def upgrade() -> None:
    op.add_column("refusals", sa.Column("first_person_id", sa.Uuid(), nullable=True))
    op.add_column("refusals", sa.Column("name_key", _text(100), nullable=True))
    op.add_column("refusals", sa.Column("linked_at", _at(), nullable=True))
    op.add_column("refusals", sa.Column("linked_by", _text(200), nullable=True))
    op.get_bind().execute(
        sa.text(f"update refusals set first_person_id = person_id, name_key = {NAME_KEY}"),
        {"dropped": DROPPED},
    )
    op.alter_column("refusals", "first_person_id", nullable=False)
    op.create_index(op.f("ix_refusals_person_id"), "refusals", ["person_id"], unique=False)
    op.create_index(op.f("ix_refusals_name_key"), "refusals", ["name_key"], unique=False)

    op.create_table(
        "burials",
        sa.Column("person_id", sa.Uuid(), nullable=False),
        sa.Column("stay_id", sa.Uuid(), nullable=False),
        sa.Column("station_id", _text(64), nullable=False),
        sa.Column("buried_on", sa.Date(), nullable=False),
        sa.Column("remains", _text(40), nullable=False),
        sa.Column("cemetery", _text(200), nullable=True),
        sa.Column("funeral_home", _text(200), nullable=True),
        sa.Column("certificate_reference", _text(100), nullable=False),
        sa.Column("photo_kept", sa.Boolean(), nullable=False),
        sa.Column("dna_kept", sa.Boolean(), nullable=False),
        sa.Column("note", _text(2000), nullable=True),
        sa.Column("recorded_at", _at(), nullable=False),
        sa.Column("recorded_by", _text(200), nullable=False),
        sa.Column("corrected_at", _at(), nullable=True),
        sa.Column("corrected_by", _text(200), nullable=True),
        sa.Column("correction_note", _text(2000), nullable=True),
        sa.ForeignKeyConstraint(["person_id"], ["persons.id"]),
        sa.ForeignKeyConstraint(["stay_id"], ["stays.id"]),
        sa.PrimaryKeyConstraint("person_id"),
    )
    op.create_index(op.f("ix_burials_station_id"), "burials", ["station_id"], unique=False)


def downgrade() -> None:
    op.drop_index(op.f("ix_burials_station_id"), table_name="burials")
    op.drop_table("burials")
    op.drop_index(op.f("ix_refusals_name_key"), table_name="refusals")
    op.drop_index(op.f("ix_refusals_person_id"), table_name="refusals")
    for column in ("linked_by", "linked_at", "name_key", "first_person_id"):
        op.drop_column("refusals", column)
