"""Tables the chassis adds to every service's own database."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import (
    Column,
    DateTime,
    Integer,
    MetaData,
    PrimaryKeyConstraint,
    String,
    Table,
    func,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import registry as orm_registry
from sqlmodel import SQLModel

from rescue_chassis.audit import define_audit_table
from rescue_events.tables import PlumbingTables, define_plumbing_tables


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
        Column("response", JSONB, nullable=False),
        Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
        PrimaryKeyConstraint("key", "subject", name="idempotency_keys_pkey"),
    )
    plumbing = define_plumbing_tables(metadata)
    return ServiceTables(metadata, plumbing, idempotency, define_audit_table(metadata)), Base
