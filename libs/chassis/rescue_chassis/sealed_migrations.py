"""The migration that seals columns (rescue_chassis.crypto): a column holding something
sensitive becomes a text column for its ciphertext.

A migration has no keys: it only changes the column's type (a JSON document becomes
its text); the service's re-encryption job encrypts the values, a batch per run, and
they are read as plain until then (``rescue_encryption_stale_values`` shows what is
left). Downgrading fails while encrypted values are stored: they cannot be decrypted
here, and ciphertext is neither JSON nor short.

The first six (``services/*/migrations/versions/*_sealed_fields.py``: intake 0014,
search 0020, transfer 0007, referral 0007, followup 0007, summary 0003) carried this
body inline and now call it; tests/unit/test_sealed_migrations.py holds the SQL they
emitted then and checks they and this still emit it. A migration calls it so::

    SEALED = [("agencies", "contacts", postgresql.JSONB(astext_type=sa.Text()))]

    def upgrade() -> None:
        seal_columns_v1(SEALED)

    def downgrade() -> None:
        unseal_columns_v1(SEALED)

Frozen, as migration DDL is: a change is a ``_v2``.
"""

from __future__ import annotations

from collections.abc import Iterable

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql
from sqlalchemy.types import TypeEngine

#: (table, column, the column's type before it was sealed)
Sealed = tuple[str, str, TypeEngine]


def seal_columns_v1(sealed: Iterable[Sealed]) -> None:
    """Each column becomes text, its values kept as their text."""
    for table, column, before in sealed:
        op.alter_column(
            table, column, type_=sa.Text(), existing_type=before, postgresql_using=f"{column}::text"
        )


def unseal_columns_v1(sealed: Iterable[Sealed]) -> None:
    """Each column back to its type before (JSONB parsed from its text)."""
    for table, column, before in sealed:
        # Ciphertext is neither JSON nor short: this fails rather than lose it.
        json = isinstance(before, postgresql.JSONB)
        op.alter_column(
            table,
            column,
            type_=before,
            existing_type=sa.Text(),
            postgresql_using=f"{column}::jsonb" if json else None,
        )
