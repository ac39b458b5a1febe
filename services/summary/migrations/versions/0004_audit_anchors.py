"""The anchors of every service's audit chain, kept outside its database (issue 30:
summary.audit_anchors); and least right for summary's own trail (issue 32): staged
entries move into the chain only through the owner's function
rescue_audit_chain_staged (rescue_chassis.migrations.runtime_grants).

Revision ID: 0004auditanchors
Revises: 0003sealedfields
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from rescue_chassis.audit import create_audit_chaining_v1, drop_audit_chaining_v1

revision: str = "0004auditanchors"
down_revision: str | None = "0003sealedfields"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "audit_anchors",
        sa.Column("service", sa.String(length=64), nullable=False),
        sa.Column("position", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("hash", sa.String(length=64), nullable=False),
        sa.Column("entry_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("anchored_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("event_id", sa.String(length=64), nullable=False),
        sa.Column("contradicted_by", sa.String(length=64), nullable=True),
        sa.PrimaryKeyConstraint("service", "position"),
    )
    create_audit_chaining_v1()


def downgrade() -> None:
    drop_audit_chaining_v1()
    op.drop_table("audit_anchors")
