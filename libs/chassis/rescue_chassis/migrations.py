"""Alembic, once for all services: each service's ``migrations/env.py`` is two lines.

Migrations run with ``python -m <service> migrate``: before the service starts
locally, as an init container in Kubernetes.

Two roles per service database: ``<service>_owner`` owns the tables and runs the
migrations (``<SERVICE>_OWNER_DATABASE_URL``); the service runs as ``<service>``
(``<SERVICE>_DATABASE_URL``), which ``grant_runtime_role`` gives only what it
uses: rows of its tables, the audit trail to read and append to, no DDL (so no
trigger to switch off either).
"""

from __future__ import annotations

import asyncio
import re
from pathlib import Path

import sqlalchemy as sa
from alembic import command, context, op
from alembic.config import Config
from sqlalchemy import MetaData, make_url, pool
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


def runtime_grants(database: str, owner: str, role: str) -> list[str]:
    """What the service's runtime ``role`` may do in the ``database`` its ``owner``
    migrates, tables made later included (default privileges)."""
    db, owner, role = (_identifier(name) for name in (database, owner, role))
    default = f"ALTER DEFAULT PRIVILEGES FOR ROLE {owner} IN SCHEMA public GRANT"
    return [
        f"REVOKE ALL ON DATABASE {db} FROM PUBLIC",
        f"GRANT CONNECT ON DATABASE {db} TO {role}",
        "REVOKE CREATE ON SCHEMA public FROM PUBLIC",
        f"GRANT USAGE ON SCHEMA public TO {role}",
        f"GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA public TO {role}",
        f"GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA public TO {role}",
        f"{default} SELECT, INSERT, UPDATE, DELETE ON TABLES TO {role}",
        f"{default} USAGE, SELECT ON SEQUENCES TO {role}",
        # The trail is read and appended to, never changed; staged entries are
        # added by writes and moved into the chain only by the owner's function
        # (rescue_chassis.audit.table.create_audit_chaining_v1), never deleted.
        f"REVOKE ALL ON audit_entries FROM {role}",
        f"GRANT SELECT, INSERT ON audit_entries TO {role}",
        f"REVOKE UPDATE, DELETE ON audit_pending FROM {role}",
        f"GRANT EXECUTE ON FUNCTION rescue_audit_chain_staged(bigint[], text[]) TO {role}",
        # checkpoints only accumulate (the verification trusts them)
        f"REVOKE UPDATE, DELETE, TRUNCATE ON audit_checkpoints FROM {role}",
        f"REVOKE INSERT, UPDATE, DELETE ON alembic_version FROM {role}",
    ]


def grant_runtime_role(owner_url: str, runtime_url: str) -> None:
    """Give the role of ``runtime_url`` its rights (``runtime_grants``), as the owner."""
    role = make_url(runtime_url).username
    if not role:
        raise ValueError("the service's database URL names no role to grant")

    async def grant() -> None:
        engine = create_async_engine(owner_url, poolclass=pool.NullPool)
        try:
            async with engine.begin() as connection:
                database, owner = (
                    await connection.execute(sa.text("SELECT current_database(), current_user"))
                ).one()
                if owner == role:
                    raise ValueError(f"the owner and the service's role are both {role}")
                for statement in runtime_grants(database, owner, role):
                    await connection.execute(sa.text(statement))
        finally:
            await engine.dispose()

    asyncio.run(grant())


def _identifier(name: str) -> str:
    # Role and database names are ours (service names): anything else is refused.
    if not re.fullmatch(r"[a-z_][a-z0-9_]{0,62}", name):
        raise ValueError(f"not a plain role or database name: {name!r}")
    return f'"{name}"'


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
