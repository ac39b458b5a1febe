"""Least right for the audit trail (issue 32): staged entries (audit_pending) move
into the chain only through the owner's function rescue_audit_chain_staged, with
their own content; the service's role may execute it and no longer delete them
(rescue_chassis.migrations.runtime_grants).

Revision ID: 0015auditchaining
Revises: 0014sealedfields
"""

from collections.abc import Sequence

from rescue_chassis.audit import create_audit_chaining_v1, drop_audit_chaining_v1

revision: str = "0015auditchaining"
down_revision: str | None = "0014sealedfields"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    create_audit_chaining_v1()


def downgrade() -> None:
    drop_audit_chaining_v1()
