"""The audit_entries table: its definition (in ``rescue_chassis.tables``, with the
chassis's other tables, below the runtime) and the DDL of its migration.

The DDL is frozen for the services' migrations (see rescue_chassis.migrations): a
migration must mean the same thing forever; a change is create_audit_v2().
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import ARRAY, JSONB

from rescue_chassis.tables import AUDIT_PURPOSE_MAX as PURPOSE_MAX
from rescue_chassis.tables import AUDIT_TABLE as TABLE
from rescue_chassis.tables import define_audit_table

__all__ = [
    "PURPOSE_MAX",
    "TABLE",
    "create_audit_pending_v1",
    "create_audit_v1",
    "define_audit_table",
    "drop_audit_pending_v1",
    "drop_audit_v1",
]

_APPEND_ONLY_DDL = [
    """
    CREATE OR REPLACE FUNCTION rescue_audit_append_only() RETURNS trigger
    LANGUAGE plpgsql AS $$
    BEGIN
        RAISE EXCEPTION 'audit_entries is append-only: % refused', TG_OP
            USING ERRCODE = 'insufficient_privilege',
                  HINT = 'The audit trail is never changed; record a new entry instead.';
    END $$
    """,
    """
    CREATE TRIGGER audit_entries_append_only
    BEFORE UPDATE OR DELETE OR TRUNCATE ON audit_entries
    FOR EACH STATEMENT EXECUTE FUNCTION rescue_audit_append_only()
    """,
]


def create_audit_v1() -> None:
    """The audit_entries table, its indexes and the append-only trigger."""
    op.create_table(
        "audit_entries",
        sa.Column("id", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("subject", sa.String(length=200), nullable=False),
        sa.Column("station_id", sa.String(length=64), nullable=False),
        sa.Column("roles", ARRAY(sa.String(length=64)), nullable=False),
        sa.Column("action", sa.String(length=5), nullable=False),
        sa.Column("method", sa.String(length=10), nullable=False),
        sa.Column("route", sa.String(length=300), nullable=False),
        sa.Column("record_ids", JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column(
            "record_values",
            JSONB(astext_type=sa.Text()),
            sa.Computed("jsonb_path_query_array(record_ids, 'lax $.*[*]')", persisted=True),
            nullable=True,
        ),
        sa.Column("fields", ARRAY(sa.String(length=200)), nullable=True),
        sa.Column("purpose", sa.String(length=200), nullable=True),
        sa.Column("status_code", sa.Integer(), nullable=False),
        sa.Column("correlation_id", sa.String(length=100), nullable=True),
        sa.Column("prev_hash", sa.String(length=64), nullable=False),
        sa.Column("hash", sa.String(length=64), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_audit_entries_at", "audit_entries", ["at"])
    op.create_index("ix_audit_entries_subject", "audit_entries", ["subject", "id"])
    op.create_index("ix_audit_entries_station_id", "audit_entries", ["station_id", "id"])
    op.create_index(
        "ix_audit_entries_record_values",
        "audit_entries",
        ["record_values"],
        postgresql_using="gin",
        postgresql_ops={"record_values": "jsonb_path_ops"},
    )
    for statement in _APPEND_ONLY_DDL:
        op.execute(statement)


def drop_audit_v1() -> None:
    op.execute("DROP TRIGGER IF EXISTS audit_entries_append_only ON audit_entries")
    op.execute("DROP FUNCTION IF EXISTS rescue_audit_append_only()")
    op.drop_index("ix_audit_entries_record_values", table_name="audit_entries")
    op.drop_index("ix_audit_entries_station_id", table_name="audit_entries")
    op.drop_index("ix_audit_entries_subject", table_name="audit_entries")
    op.drop_index("ix_audit_entries_at", table_name="audit_entries")
    op.drop_table("audit_entries")


def create_audit_pending_v1() -> None:
    """audit_pending: a write's entry, committed in the write's own transaction and
    moved into the chain (audit_entries) right after, or by the next process up."""
    op.create_table(
        "audit_pending",
        sa.Column("id", sa.BigInteger(), sa.Identity(always=True), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("entry", JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("trace_context", JSONB(astext_type=sa.Text()), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )


def drop_audit_pending_v1() -> None:
    op.drop_table("audit_pending")
