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
    "create_audit_chaining_v1",
    "create_audit_pending_v1",
    "create_audit_v1",
    "define_audit_table",
    "drop_audit_chaining_v1",
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


# The chain's advisory lock (rescue_chassis.audit.writer._CHAIN_LOCK_KEY), frozen here.
_CHAIN_LOCK_KEY_V1 = 0xA0D17C4A1
CHAIN_STAGED_FUNCTION = "rescue_audit_chain_staged(bigint[], text[])"

_CHAIN_STAGED_V1 = f"""
CREATE FUNCTION rescue_audit_chain_staged(staged_ids bigint[], hashes text[])
RETURNS integer LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, public AS $$
DECLARE
    staged record;
    last_id bigint;
    last_hash text;
    i integer;
BEGIN
    IF coalesce(array_length(staged_ids, 1), 0) <> coalesce(array_length(hashes, 1), 0) THEN
        RAISE EXCEPTION 'one hash per staged entry' USING ERRCODE = 'invalid_parameter_value';
    END IF;
    PERFORM pg_advisory_xact_lock({_CHAIN_LOCK_KEY_V1});
    SELECT id, hash INTO last_id, last_hash FROM audit_entries ORDER BY id DESC LIMIT 1;
    last_id := coalesce(last_id, 0);
    last_hash := coalesce(last_hash, repeat('0', 64));
    FOR i IN 1 .. coalesce(array_length(staged_ids, 1), 0) LOOP
        DELETE FROM audit_pending WHERE id = staged_ids[i] RETURNING at, entry INTO staged;
        IF NOT FOUND THEN
            RAISE EXCEPTION 'audit_pending % is not staged', staged_ids[i]
                USING ERRCODE = 'no_data_found';
        END IF;
        last_id := last_id + 1;
        INSERT INTO audit_entries (
            id, at, subject, station_id, roles, action, method, route, record_ids, fields,
            purpose, status_code, correlation_id, prev_hash, hash
        ) VALUES (
            last_id,
            staged.at,
            staged.entry->>'subject',
            staged.entry->>'station_id',
            ARRAY(SELECT r FROM jsonb_array_elements_text(staged.entry->'roles')
                  WITH ORDINALITY AS t(r, n) ORDER BY n),
            staged.entry->>'action',
            staged.entry->>'method',
            staged.entry->>'route',
            staged.entry->'record_ids',
            CASE WHEN jsonb_typeof(staged.entry->'fields') = 'array' THEN
                ARRAY(SELECT f FROM jsonb_array_elements_text(staged.entry->'fields')
                      WITH ORDINALITY AS t(f, n) ORDER BY n)
            END,
            staged.entry->>'purpose',
            (staged.entry->>'status_code')::integer,
            staged.entry->>'correlation_id',
            last_hash,
            hashes[i]
        );
        last_hash := hashes[i];
    END LOOP;
    RETURN coalesce(array_length(staged_ids, 1), 0);
END $$
"""


def create_audit_chaining_v1() -> None:
    """``rescue_audit_chain_staged``: moves staged entries (``audit_pending``) into
    the chain with the content they were staged with, as the owner (SECURITY
    DEFINER), so the service's role needs no DELETE on ``audit_pending``: it passes
    only the hashes it computed (a wrong one breaks the chain's verification).
    The role's EXECUTE is granted by rescue_chassis.migrations.runtime_grants."""
    op.execute(_CHAIN_STAGED_V1)
    op.execute(f"REVOKE ALL ON FUNCTION {CHAIN_STAGED_FUNCTION} FROM PUBLIC")


def drop_audit_chaining_v1() -> None:
    op.execute(f"DROP FUNCTION IF EXISTS {CHAIN_STAGED_FUNCTION}")
