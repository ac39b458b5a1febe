"""Nothing sensitive in plain text (issue 32): the answers stored for idempotent
retries become ciphertext in text columns (rescue_chassis.crypto); the audit
chain gets its checkpoints (rescue_chassis.audit.checkpoints).

A JSON document becomes its text here; a migration has no keys, so the values are
encrypted by the service's re-encryption job, a batch per run, and read as plain
until then (``rescue_encryption_stale_values`` shows what is left). Downgrading
fails while encrypted values are stored (they cannot be decrypted here).

Revision ID: 0020sealedfields
Revises: 0019auditpending
"""

from collections.abc import Sequence

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql

from rescue_chassis.audit.checkpoints import (
    create_audit_checkpoints_v1,
    drop_audit_checkpoints_v1,
)
from rescue_chassis.sealed_migrations import seal_columns_v1, unseal_columns_v1

revision: str = "0020sealedfields"
down_revision: str | None = "0019auditpending"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


# (table, column, its type before)
SEALED = [
    ("idempotency_keys", "response", postgresql.JSONB(astext_type=sa.Text())),
]


def upgrade() -> None:
    seal_columns_v1(SEALED)
    create_audit_checkpoints_v1()


def downgrade() -> None:
    drop_audit_checkpoints_v1()
    # fails while ciphertext is stored rather than lose it (see the helper)
    unseal_columns_v1(SEALED)
