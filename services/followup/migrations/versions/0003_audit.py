"""The audit trail: who read or wrote which person data, hash-chained, append-only.

Revision ID: 0003audit
Revises: a36431538cf7
"""

from collections.abc import Sequence

from rescue_chassis.audit import create_audit_v1, drop_audit_v1

revision: str = "0003audit"
down_revision: str | None = "a36431538cf7"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    create_audit_v1()


def downgrade() -> None:
    drop_audit_v1()
