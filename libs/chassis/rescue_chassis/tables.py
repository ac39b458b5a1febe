"""Tables the chassis adds to every service's own database.

Definitions only, below the runtime: what writes and reads them (the outbox,
``rescue_chassis.idempotency``, ``rescue_chassis.audit``) sits above.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import (
    BigInteger,
    Column,
    Computed,
    DateTime,
    Identity,
    Index,
    Integer,
    MetaData,
    PrimaryKeyConstraint,
    String,
    Table,
    func,
)
from sqlalchemy.dialects.postgresql import ARRAY, JSONB
from sqlalchemy.orm import registry as orm_registry
from sqlmodel import SQLModel

from rescue_chassis.crypto import EncryptedJSON
from rescue_events.tables import PlumbingTables, define_plumbing_tables

AUDIT_TABLE = "audit_entries"
# A write's entry, staged in the write's own transaction, until it takes its place
# in the chain (rescue_chassis.audit.writer).
AUDIT_PENDING_TABLE = "audit_pending"
# Verified points of the chain: a verification starts from the latest one.
AUDIT_CHECKPOINTS_TABLE = "audit_checkpoints"
AUDIT_PURPOSE_MAX = 200  # characters of the caller's stated purpose kept
# The record ids an entry names, every key's values flattened (for GIN lookups).
AUDIT_RECORD_VALUES = "jsonb_path_query_array(record_ids, 'lax $.*[*]')"


@dataclass(frozen=True)
class ServiceTables:
    metadata: MetaData
    plumbing: PlumbingTables
    idempotency: Table
    audit: Table  # rescue_chassis.audit: who read or wrote which person data


def service_tables() -> tuple[ServiceTables, type[SQLModel]]:
    """A service's own MetaData with the plumbing tables, and a SQLModel base bound to it.

    Each service gets its own registry, so two services may both own a table
    called ``persons`` without colliding, even in one test process.
    """
    metadata = MetaData()
    registry = orm_registry(metadata=metadata)

    class Base(SQLModel, registry=registry):
        pass

    idempotency = Table(
        "idempotency_keys",
        metadata,
        Column("key", String(200), nullable=False),
        Column("subject", String(200), nullable=False),
        Column("request_hash", String(64), nullable=False),
        Column("status_code", Integer, nullable=False),
        # The answer replayed to a retry: it can name a national id or a phone number.
        Column("response", EncryptedJSON("idempotency_keys.response"), nullable=False),
        Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
        PrimaryKeyConstraint("key", "subject", name="idempotency_keys_pkey"),
    )
    plumbing = define_plumbing_tables(metadata)
    define_audit_pending_table(metadata)
    define_audit_checkpoints_table(metadata)
    return ServiceTables(metadata, plumbing, idempotency, define_audit_table(metadata)), Base


def define_audit_table(metadata: MetaData) -> Table:
    """The audit trail's hash chain (rescue_chassis.audit), one per service."""
    return Table(
        AUDIT_TABLE,
        metadata,
        # The chain position, assigned under the chain lock: 1, 2, 3… without gaps.
        Column("id", BigInteger, primary_key=True, autoincrement=False),
        Column("at", DateTime(timezone=True), nullable=False),
        Column("subject", String(200), nullable=False),
        Column("station_id", String(64), nullable=False),
        Column("roles", ARRAY(String(64)), nullable=False),
        Column("action", String(5), nullable=False),
        Column("method", String(10), nullable=False),
        Column("route", String(300), nullable=False),
        Column("record_ids", JSONB, nullable=False),
        # Derived by the database, for GIN lookups by any record id; not hashed.
        Column("record_values", JSONB, Computed(AUDIT_RECORD_VALUES, persisted=True)),
        Column("fields", ARRAY(String(200)), nullable=True),
        Column("purpose", String(AUDIT_PURPOSE_MAX), nullable=True),
        Column("status_code", Integer, nullable=False),
        Column("correlation_id", String(100), nullable=True),
        Column("prev_hash", String(64), nullable=False),
        Column("hash", String(64), nullable=False),
        Index("ix_audit_entries_at", "at"),
        Index("ix_audit_entries_subject", "subject", "id"),
        Index("ix_audit_entries_station_id", "station_id", "id"),
        Index(
            "ix_audit_entries_record_values",
            "record_values",
            postgresql_using="gin",
            postgresql_ops={"record_values": "jsonb_path_ops"},
        ),
    )


def define_audit_pending_table(metadata: MetaData) -> Table:
    """Writes' entries committed with their writes, not yet in the chain."""
    return Table(
        AUDIT_PENDING_TABLE,
        metadata,
        Column("id", BigInteger, Identity(always=True), primary_key=True),
        Column("at", DateTime(timezone=True), nullable=False),
        Column("entry", JSONB, nullable=False),  # the Access, as JSON
        Column("trace_context", JSONB, nullable=False),
    )


def define_audit_checkpoints_table(metadata: MetaData) -> Table:
    """Positions of the chain found intact, with their hash (rescue_chassis.audit.checkpoints)."""
    return Table(
        AUDIT_CHECKPOINTS_TABLE,
        metadata,
        Column("position", BigInteger, primary_key=True, autoincrement=False),
        Column("hash", String(64), nullable=False),
        Column("verified_at", DateTime(timezone=True), nullable=False),
        # Entries walked to reach it from the checkpoint before (or from the start).
        Column("entries", BigInteger, nullable=False),
    )
