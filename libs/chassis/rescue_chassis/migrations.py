"""Alembic, once for all services: each service's ``migrations/env.py`` is two lines.

Migrations run with ``python -m <service> migrate``: before the service starts
locally, as an init container in Kubernetes.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

import sqlalchemy as sa
from alembic import command, context, op
from alembic.config import Config
from sqlalchemy import MetaData, pool
from sqlalchemy.dialects import postgresql
from sqlalchemy.ext.asyncio import create_async_engine

from rescue_events.tables import outbox_notify_ddl, outbox_notify_drop_ddl


def alembic_config(migrations_dir: Path, database_url: str) -> Config:
    config = Config()
    config.set_main_option("script_location", str(migrations_dir))
    config.set_main_option("sqlalchemy.url", database_url.replace("%", "%%"))
    return config


def upgrade(migrations_dir: Path, database_url: str, revision: str = "head") -> None:
    command.upgrade(alembic_config(migrations_dir, database_url), revision)


def revision(migrations_dir: Path, database_url: str, message: str) -> None:
    command.revision(
        alembic_config(migrations_dir, database_url), message=message, autogenerate=True
    )


def run_env(target_metadata: MetaData) -> None:
    """The body of every service's env.py (online, async mode)."""
    url = context.config.get_main_option("sqlalchemy.url")

    def migrate(connection) -> None:
        context.configure(connection=connection, target_metadata=target_metadata, compare_type=True)
        with context.begin_transaction():
            context.run_migrations()

    async def run() -> None:
        engine = create_async_engine(url, poolclass=pool.NullPool)
        async with engine.connect() as connection:
            await connection.run_sync(migrate)
            await connection.commit()
        await engine.dispose()

    asyncio.run(run())


# -- the chassis' own tables ---------------------------------------------------
# Frozen DDL, not derived from rescue_events.tables: a migration must mean the
# same thing forever. A change to these tables is a new pair of functions
# (create_plumbing_v2 …) that every service calls from a new migration of its own.


def create_plumbing_v1() -> None:
    """Outbox, inbox, dead letters and idempotency keys, with the relay's NOTIFY trigger."""
    op.create_table(
        "dead_letters",
        sa.Column("id", sa.BigInteger(), autoincrement=True, nullable=False),
        sa.Column("consumer", sa.String(length=100), nullable=False),
        sa.Column("topic", sa.String(length=249), nullable=False),
        sa.Column("partition", sa.Integer(), nullable=False),
        sa.Column("offset", sa.BigInteger(), nullable=False),
        sa.Column("event_id", sa.String(length=64), nullable=True),
        sa.Column("event_type", sa.String(length=100), nullable=True),
        sa.Column("message_key", sa.LargeBinary(), nullable=True),
        sa.Column("headers", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("payload", sa.LargeBinary(), nullable=True),
        sa.Column("reason", sa.String(length=40), nullable=False),
        sa.Column("error", sa.Text(), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column(
            "failed_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False
        ),
        sa.Column("replayed_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint(
            "consumer", "topic", "partition", "offset", name="dead_letters_position"
        ),
    )
    op.create_table(
        "idempotency_keys",
        sa.Column("key", sa.String(length=200), nullable=False),
        sa.Column("subject", sa.String(length=200), nullable=False),
        sa.Column("request_hash", sa.String(length=64), nullable=False),
        sa.Column("status_code", sa.Integer(), nullable=False),
        sa.Column("response", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.PrimaryKeyConstraint("key", "subject", name="idempotency_keys_pkey"),
    )
    op.create_table(
        "inbox",
        sa.Column("consumer", sa.String(length=100), nullable=False),
        sa.Column("event_id", sa.String(length=64), nullable=False),
        sa.Column("event_type", sa.String(length=100), nullable=False),
        sa.Column("topic", sa.String(length=249), nullable=False),
        sa.Column("partition", sa.Integer(), nullable=False),
        sa.Column("offset", sa.BigInteger(), nullable=False),
        sa.Column(
            "processed_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.PrimaryKeyConstraint("consumer", "event_id", name="inbox_pkey"),
    )
    op.create_table(
        "outbox",
        sa.Column("id", sa.BigInteger(), autoincrement=True, nullable=False),
        sa.Column("event_id", sa.String(length=64), nullable=False),
        sa.Column("topic", sa.String(length=249), nullable=False),
        sa.Column("message_key", sa.Text(), nullable=True),
        sa.Column("headers", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("payload", sa.LargeBinary(), nullable=False),
        sa.Column(
            "trace_context",
            postgresql.JSONB(astext_type=sa.Text()),
            server_default="{}",
            nullable=False,
        ),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column("attempts", sa.Integer(), server_default="0", nullable=False),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("event_id"),
    )
    # Wake the outbox relay on commit (LISTEN/NOTIFY): events leave within milliseconds.
    for statement in outbox_notify_ddl():
        op.execute(statement)


def drop_plumbing_v1() -> None:
    for statement in outbox_notify_drop_ddl():
        op.execute(statement)
    op.drop_table("outbox")
    op.drop_table("inbox")
    op.drop_table("idempotency_keys")
    op.drop_table("dead_letters")


def create_plumbing_v2() -> None:
    """The outbox keeps published rows (published_at, published_to: the broker's
    cluster id) for its retention window, so what a broker lost can be sent again;
    dead letters can be discarded on record (when, by whom, why).

    Rows already in the outbox are all unpublished (v1 deleted a row once the
    broker acknowledged it): NULL is right for them."""
    op.add_column("outbox", sa.Column("published_at", sa.DateTime(timezone=True), nullable=True))
    op.add_column("outbox", sa.Column("published_to", sa.String(length=200), nullable=True))
    op.create_index(
        "outbox_unpublished",
        "outbox",
        ["id"],
        unique=False,
        postgresql_where=sa.text("published_at IS NULL"),
    )
    op.add_column(
        "dead_letters", sa.Column("discarded_at", sa.DateTime(timezone=True), nullable=True)
    )
    op.add_column("dead_letters", sa.Column("discarded_by", sa.String(length=200), nullable=True))
    op.add_column("dead_letters", sa.Column("discard_reason", sa.Text(), nullable=True))


def drop_plumbing_v2() -> None:
    """Back to v1, where every outbox row is an event still to publish: the rows
    kept after publication go (they were delivered), and discards are forgotten
    (those dead letters show as waiting again)."""
    op.drop_column("dead_letters", "discard_reason")
    op.drop_column("dead_letters", "discarded_by")
    op.drop_column("dead_letters", "discarded_at")
    op.execute("DELETE FROM outbox WHERE published_at IS NOT NULL")
    op.drop_index("outbox_unpublished", table_name="outbox")
    op.drop_column("outbox", "published_to")
    op.drop_column("outbox", "published_at")
