"""The plumbing tables every service keeps in its own database.

Defined on the service's own ``MetaData`` so they live in each service's
schema and migrations; the services never share a database.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import (
    BigInteger,
    Column,
    DateTime,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    PrimaryKeyConstraint,
    String,
    Table,
    Text,
    UniqueConstraint,
    func,
    text,
)
from sqlalchemy.dialects.postgresql import JSONB

OUTBOX_CHANNEL = "rescue_outbox"


@dataclass(frozen=True)
class PlumbingTables:
    outbox: Table
    inbox: Table
    dead_letters: Table


def define_plumbing_tables(metadata: MetaData) -> PlumbingTables:
    outbox = Table(
        "outbox",
        metadata,
        Column("id", BigInteger, primary_key=True, autoincrement=True),
        Column("event_id", String(64), nullable=False, unique=True),
        Column("topic", String(249), nullable=False),
        Column("message_key", Text, nullable=True),
        # Record headers as [[name, value], ...]: the CloudEvents attributes.
        Column("headers", JSONB, nullable=False),
        Column("payload", LargeBinary, nullable=False),
        # W3C trace context of the business transaction that staged the event.
        Column("trace_context", JSONB, nullable=False, server_default="{}"),
        Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
        Column("attempts", Integer, nullable=False, server_default="0"),
        Column("last_error", Text, nullable=True),
        # Set when the broker acknowledged the row; the row is kept (the outbox
        # retention, ``purge``) so that what a broker lost can be sent again.
        Column("published_at", DateTime(timezone=True), nullable=True),
        # The cluster id of the broker that acknowledged it: a broker with another
        # id has none of these records (rescue_events.relay, "Re-publishing").
        Column("published_to", String(200), nullable=True),
        # The relay's pick: unpublished rows in order. (No index on published_at:
        # marking a row published would cost one more index entry per event; the
        # purge walks the oldest rows by id, and re-publishing is rare.)
        Index("outbox_unpublished", "id", postgresql_where=text("published_at IS NULL")),
    )
    inbox = Table(
        "inbox",
        metadata,
        Column("consumer", String(100), nullable=False),
        Column("event_id", String(64), nullable=False),
        Column("event_type", String(100), nullable=False),
        Column("topic", String(249), nullable=False),
        Column("partition", Integer, nullable=False),
        Column("offset", BigInteger, nullable=False),
        Column("processed_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
        PrimaryKeyConstraint("consumer", "event_id", name="inbox_pkey"),
    )
    dead_letters = Table(
        "dead_letters",
        metadata,
        Column("id", BigInteger, primary_key=True, autoincrement=True),
        Column("consumer", String(100), nullable=False),
        Column("topic", String(249), nullable=False),
        Column("partition", Integer, nullable=False),
        Column("offset", BigInteger, nullable=False),
        Column("event_id", String(64), nullable=True),
        Column("event_type", String(100), nullable=True),
        Column("message_key", LargeBinary, nullable=True),
        # Raw headers as [[name, base64 value], ...]: a malformed record is kept as it came.
        Column("headers", JSONB, nullable=False),
        Column("payload", LargeBinary, nullable=True),
        Column("reason", String(40), nullable=False),
        Column("error", Text, nullable=False),
        Column("attempts", Integer, nullable=False),
        Column("failed_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
        Column("replayed_at", DateTime(timezone=True), nullable=True),
        # Set aside on purpose by on-call (never replayed): who, when and why.
        Column("discarded_at", DateTime(timezone=True), nullable=True),
        Column("discarded_by", String(200), nullable=True),
        Column("discard_reason", Text, nullable=True),
        UniqueConstraint("consumer", "topic", "partition", "offset", name="dead_letters_position"),
    )
    return PlumbingTables(outbox=outbox, inbox=inbox, dead_letters=dead_letters)


def outbox_notify_ddl(table_name: str = "outbox") -> list[str]:
    """DDL that wakes the relay (LISTEN/NOTIFY) whenever a transaction adds outbox rows.

    Notifications are delivered at commit, so the relay never sees a row the
    transaction could still roll back.
    """
    return [
        f"""
        CREATE OR REPLACE FUNCTION rescue_outbox_notify() RETURNS trigger
        LANGUAGE plpgsql AS $$
        BEGIN
            PERFORM pg_notify('{OUTBOX_CHANNEL}', '');
            RETURN NULL;
        END $$
        """,
        f"""
        CREATE TRIGGER {table_name}_notify AFTER INSERT ON {table_name}
        FOR EACH STATEMENT EXECUTE FUNCTION rescue_outbox_notify()
        """,
    ]


def outbox_notify_drop_ddl(table_name: str = "outbox") -> list[str]:
    return [
        f"DROP TRIGGER IF EXISTS {table_name}_notify ON {table_name}",
        "DROP FUNCTION IF EXISTS rescue_outbox_notify()",
    ]
