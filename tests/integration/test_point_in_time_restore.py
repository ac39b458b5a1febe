"""One service's database restored to a moment from a base backup plus archived WAL,
on an embedded PostgreSQL of the test's own (archiving needs a server restart): the
procedure CloudNativePG's recovery needs too (recover the whole server, then copy one
database back), run here with pg_basebackup, archive_command and a recovered copy."""

from __future__ import annotations

import asyncio
import uuid

import asyncpg
import pytest
from sqlalchemy import MetaData
from sqlalchemy.ext.asyncio import create_async_engine

from rescue_events.tables import define_plumbing_tables
from rescue_localnet import backups
from rescue_localnet.postgres import EmbeddedPostgres

pytestmark = pytest.mark.integration

SERVICES = ("intake", "search")


@pytest.fixture
async def server(tmp_path):
    own = EmbeddedPostgres(tmp_path / "net" / "postgres")
    await asyncio.to_thread(own.start)
    yield own
    await asyncio.to_thread(own.stop)


async def with_outbox(server: EmbeddedPostgres, database: str) -> None:
    metadata = MetaData()
    define_plumbing_tables(metadata)
    engine = create_async_engine(server.sqlalchemy_url(database))
    try:
        async with engine.begin() as conn:
            await conn.run_sync(metadata.create_all)
    finally:
        await engine.dispose()


async def stage(server: EmbeddedPostgres, database: str, event_id: str) -> None:
    conn = await asyncpg.connect(server.dsn(database))
    try:
        await conn.execute(
            "INSERT INTO outbox (event_id, topic, message_key, headers, payload) "
            "VALUES ($1, 'rescue.intake.persons', $2, '[[\"ce_type\", \"person_admitted\"]]', "
            "'{}'::bytea)",
            event_id,
            str(uuid.uuid4()),
        )
    finally:
        await conn.close()


async def event_ids(server: EmbeddedPostgres, database: str) -> set[str]:
    conn = await asyncpg.connect(server.dsn(database))
    try:
        return {row[0] for row in await conn.fetch("SELECT event_id FROM outbox")}
    finally:
        await conn.close()


async def test_a_service_database_restored_to_a_moment_from_base_backup_and_wal(server, tmp_path):
    data_dir = tmp_path / "net"
    await server.create_databases(list(SERVICES))
    for name in SERVICES:
        await with_outbox(server, name)
    assert not await backups.archiving(server.socket_dir)
    archive = await backups.enable_wal_archive(server.socket_dir, data_dir)
    await asyncio.to_thread(server.restart)
    assert await backups.archiving(server.socket_dir)

    await stage(server, "intake", "before-base")
    base = await asyncio.to_thread(backups.base_backup, server.socket_dir, data_dir)
    assert (base / "base.tar").stat().st_size > 0
    await stage(server, "intake", "kept")
    conn = await asyncpg.connect(server.dsn("postgres"))
    try:
        moment = await conn.fetchval("SELECT clock_timestamp()")
        await stage(server, "intake", "after-the-moment")
        await stage(server, "search", "search-after-the-moment")
    finally:
        await conn.close()

    # the WAL up to now archived first, then a copy recovered to the moment
    dump = await backups.dump_as_of(data_dir, "intake", moment, live_socket=server.socket_dir)
    assert sorted(archive.iterdir()), "the WAL went to the archive"
    assert dump.taken_at == moment and dump.outbox_rows == 2
    restored = await backups.restore_database(server.socket_dir, dump.path)

    assert await event_ids(server, "intake") == {"before-base", "kept"}
    assert [event.event_id for event in restored.lost] == ["after-the-moment"]
    assert restored.to_send == ["before-base", "kept"]  # never published: sent now
    # one service restored: the others' databases are as they were
    assert "search-after-the-moment" in await event_ids(server, "search")
    assert await event_ids(server, restored.aside) == {"before-base", "kept", "after-the-moment"}
