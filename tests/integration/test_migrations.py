"""Each service's migrations build exactly the schema its models describe."""

from __future__ import annotations

import asyncio
import importlib

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import inspect
from sqlalchemy.ext.asyncio import create_async_engine
from support import migrated_database

from rescue_chassis.migrations import alembic_config

pytestmark = pytest.mark.integration

SERVICES = ["intake", "search", "transfer", "referral", "followup", "summary"]


async def schema_drift(url: str, metadata) -> list:
    engine = create_async_engine(url)
    try:
        async with engine.connect() as conn:
            return await conn.run_sync(
                lambda sync: compare_metadata(MigrationContext.configure(sync), metadata)
            )
    finally:
        await engine.dispose()


async def table_names(url: str) -> set[str]:
    engine = create_async_engine(url)
    try:
        async with engine.connect() as conn:
            return set(await conn.run_sync(lambda sync: inspect(sync).get_table_names()))
    finally:
        await engine.dispose()


@pytest.mark.parametrize("name", SERVICES)
async def test_migrations_match_the_models_and_can_be_undone(postgres, name):
    service = importlib.import_module(f"{name}.app").service
    url = await migrated_database(postgres, service.migrations_dir)
    assert await schema_drift(url, service.tables.metadata) == []

    config = alembic_config(service.migrations_dir, url)
    await asyncio.to_thread(command.downgrade, config, "base")
    assert await table_names(url) == {"alembic_version"}
    await asyncio.to_thread(command.upgrade, config, "head")
    assert {"outbox", "inbox", "dead_letters", "idempotency_keys"} <= await table_names(url)
