"""One person across stations and endings (issue 25): the record keeps a name
given at intake as a claim (claimed_name), the birth date minor status derives
from, and the registered home identification found (province and address); a
stay ended by a transfer keeps where the person went (transferred_to, and the
network station, transferred_to_station_id).

Revision ID: 0009oneperson
Revises: 0008outboxretention
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel  # noqa: F401  (column types of SQLModel tables)
from alembic import op

revision: str = "0009oneperson"
down_revision: str | None = "0008outboxretention"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _text(length: int):
    return sqlmodel.sql.sqltypes.AutoString(length=length)


PERSON_COLUMNS = [
    ("claimed_name", _text(100)),
    ("birth_date", sa.Date()),
    ("registered_home_province", _text(50)),
    ("registered_home_address", _text(300)),
]
STAY_COLUMNS = [
    ("transferred_to", _text(200)),
    ("transferred_to_station_id", _text(64)),
]


def upgrade() -> None:
    for name, type_ in PERSON_COLUMNS:
        op.add_column("persons", sa.Column(name, type_, nullable=True))
    for name, type_ in STAY_COLUMNS:
        op.add_column("stays", sa.Column(name, type_, nullable=True))


def downgrade() -> None:
    for name, _ in reversed(STAY_COLUMNS):
        op.drop_column("stays", name)
    for name, _ in reversed(PERSON_COLUMNS):
        op.drop_column("persons", name)
