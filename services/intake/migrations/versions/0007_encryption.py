"""Protection at rest: encrypted personal numbers with their key ids and blind indexes.

Intake: the caller's phone number of a hotline lead.

The values themselves are not touched here (a migration has no keys): existing
plain-text values stay readable (a value without the ``enc:`` prefix is read as
is) and the service's re-encryption job (rescue_chassis.crypto) encrypts them,
and fills the blind indexes, a batch per run; ``rescue_encryption_stale_values``
shows what is left. Downgrading narrows the columns again: it fails while
encrypted values are stored (they cannot be decrypted here), never truncates.

Revision ID: 0007encryption
Revises: 0006audit
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel  # noqa: F401  (column types of SQLModel tables)
from alembic import op

revision: str = "0007encryption"
down_revision: str | None = "0006audit"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _text(length: int):
    return sqlmodel.sql.sqltypes.AutoString(length=length)


# (table, column, plain-text length before)
ENCRYPTED = [("leads", "caller_phone", 30)]


def upgrade() -> None:
    for table, column, length in ENCRYPTED:
        op.alter_column(table, column, type_=sa.Text(), existing_type=_text(length))


def downgrade() -> None:
    for table, column, length in ENCRYPTED:
        op.alter_column(table, column, type_=_text(length), existing_type=sa.Text())
