"""Alembic, once for all services: each service's ``migrations/env.py`` is two lines.

Migrations run with ``python -m <service> migrate``: before the service starts
locally, as an init container in Kubernetes.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

from alembic import command, context
from alembic.config import Config
from sqlalchemy import MetaData, pool
from sqlalchemy.ext.asyncio import create_async_engine


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
