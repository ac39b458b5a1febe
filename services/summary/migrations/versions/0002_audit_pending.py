"""Every write's audit entry commits with the write (issue 32): audit_pending holds
it until the entry takes its place in the chain.

Revision ID: 0002auditpending
Revises: 0001initial
"""

from collections.abc import Sequence

from rescue_chassis.audit import create_audit_pending_v1, drop_audit_pending_v1

revision: str = "0002auditpending"
down_revision: str | None = "0001initial"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    create_audit_pending_v1()


def downgrade() -> None:
    drop_audit_pending_v1()
