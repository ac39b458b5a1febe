"""Protection at rest: encrypted personal numbers with their key ids and blind indexes.

Search: the national identity number of a confirmed identity (with a blind index
for exact search), the contact phone of a missing-person report, and the reference
of a DNA sample (unique through its blind index now: equal ciphertexts are
impossible).

The values themselves are not touched here (a migration has no keys): existing
plain-text values stay readable (a value without the ``enc:`` prefix is read as
is) and the service's re-encryption job (rescue_chassis.crypto) encrypts them,
and fills the blind indexes, a batch per run; ``rescue_encryption_stale_values``
shows what is left. Downgrading narrows the columns again: it fails while
encrypted values are stored (they cannot be decrypted here), never truncates.

Revision ID: 0012encryption
Revises: 0011audit
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel  # noqa: F401  (column types of SQLModel tables)
from alembic import op

revision: str = "0012encryption"
down_revision: str | None = "0011audit"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _text(length: int):
    return sqlmodel.sql.sqltypes.AutoString(length=length)


# (table, column, plain-text length before)
ENCRYPTED = [
    ("identity_evidence", "national_id_number", 18),
    ("missing_person_reports", "contact_phone", 30),
    ("dna_samples", "sample_ref", 100),
]


def upgrade() -> None:
    op.drop_index(op.f("ix_dna_samples_sample_ref"), table_name="dna_samples")
    for table, column, length in ENCRYPTED:
        op.alter_column(table, column, type_=sa.Text(), existing_type=_text(length))
    op.add_column("identity_evidence", sa.Column("national_id_lookup", sa.String(64)))
    op.create_index(
        op.f("ix_identity_evidence_national_id_lookup"), "identity_evidence", ["national_id_lookup"]
    )
    op.add_column("dna_samples", sa.Column("sample_ref_lookup", sa.String(64)))
    op.create_index(
        op.f("ix_dna_samples_sample_ref_lookup"), "dna_samples", ["sample_ref_lookup"], unique=True
    )


def downgrade() -> None:
    op.drop_index(op.f("ix_dna_samples_sample_ref_lookup"), table_name="dna_samples")
    op.drop_column("dna_samples", "sample_ref_lookup")
    op.drop_index(op.f("ix_identity_evidence_national_id_lookup"), table_name="identity_evidence")
    op.drop_column("identity_evidence", "national_id_lookup")
    for table, column, length in ENCRYPTED:
        op.alter_column(table, column, type_=_text(length), existing_type=sa.Text())
    op.create_index(op.f("ix_dna_samples_sample_ref"), "dna_samples", ["sample_ref"], unique=True)
