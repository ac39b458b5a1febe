"""``python -m rescue_localnet backup | restore``: a service's database on the local network.

Against ``make run`` (its supervisor stops and starts the service, and Postgres for
``--base``), or, with no network running, against the data folder's Postgres alone.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from rescue_localnet import backups
from rescue_localnet.postgres import EmbeddedPostgres
from rescue_localnet.services import SERVICES
from rescue_localnet.supervisor import CONTROL_DIR, read_state


def add_commands(commands: argparse._SubParsersAction) -> None:
    backup = commands.add_parser(
        "backup", help="dump a service's database (or, --base, the whole server for PITR)"
    )
    which = backup.add_mutually_exclusive_group(required=True)
    which.add_argument("--service", choices=SERVICES)
    which.add_argument(
        "--base",
        action="store_true",
        help="a base backup of the server; turns WAL archiving on first (restarts Postgres)",
    )
    restore = commands.add_parser(
        "restore", help="replace a service's database with a backup (the service stopped)"
    )
    restore.add_argument("--service", choices=SERVICES, required=True)
    source = restore.add_mutually_exclusive_group()
    source.add_argument("--from", dest="dump", type=Path, help="a dump (default: the newest)")
    source.add_argument(
        "--at",
        type=datetime.fromisoformat,
        help="a moment (ISO 8601 with offset): recovered from a base backup plus the WAL",
    )


def backup_command(args) -> int:
    folder = backups.backups_dir(args.data_dir)
    with _database(args.data_dir) as (socket_dir, supervised):
        if args.base:
            if not asyncio.run(backups.archiving(socket_dir)):
                archive = asyncio.run(backups.enable_wal_archive(socket_dir, args.data_dir))
                print(f"WAL archiving on, into {archive}; restarting Postgres …", flush=True)
                socket_dir = _restart_postgres(args.data_dir, supervised, socket_dir)
            path = backups.base_backup(socket_dir, args.data_dir)
            print(f"base backup of the server: {path}")
            print("restore one service to a moment after it: make restore SERVICE=… AT=…")
            return 0
        made = asyncio.run(backups.backup_database(socket_dir, args.service, folder))
    print(f"{made.service}: {made.path} ({made.path.stat().st_size} bytes)")
    print(f"  taken at {made.taken_at.isoformat()}; outbox {made.outbox_rows} events,")
    print(f"  {made.unpublished} of them not yet published (sent after a restore)")
    return 0


def restore_command(args) -> int:
    with _database(args.data_dir) as (socket_dir, supervised):
        dump = args.dump
        if args.at is not None:
            moment = _aware(args.at)
            dump = asyncio.run(
                backups.dump_as_of(args.data_dir, args.service, moment, live_socket=socket_dir)
            ).path
            print(f"the server recovered as of {moment.isoformat()}; {args.service} dumped")
        dump = dump or backups.latest_backup(args.data_dir, args.service)
        if backups.Backup.read(dump).service != args.service:
            print(f"{dump} is a backup of another service", flush=True)
            return 2
        broker = None
        if supervised:
            broker = read_state(args.data_dir)["broker"]["bootstrap_servers"]
            _ask(args.data_dir, "stop", args.service)
        try:
            restored = asyncio.run(
                backups.restore_database(socket_dir, dump, bootstrap_servers=broker)
            )
        finally:
            if supervised:
                _ask(args.data_dir, "start", args.service, timeout=180)
    report = restored.report()
    report_file = dump.with_name(f"{restored.aside}.restore.json")
    report_file.write_text(json.dumps(report, indent=2, ensure_ascii=False))
    _print_report(restored, report_file, supervised)
    return 0


def _print_report(restored: backups.Restored, report_file: Path, supervised: bool) -> None:
    print(f"{restored.service} restored from {restored.backup.path}")
    print(f"  data as of {restored.backup.taken_at.isoformat()}")
    print(
        f"  outbox: {len(restored.to_send)} events unpublished in the backup are sent now "
        f"({len(restored.sent_again)} had gone out after it: consumers skip them)"
    )
    if restored.consumer_rewound:
        print(f"  its consumer reads again from the start: {restored.consumer_rewound}")
    elif not supervised:
        print("  its consumer starts over at the next make run (the broker starts empty)")
    print(f"  lost: {len(restored.lost)} events written after the backup, ", end="")
    print(f"{len(restored.received)} of them received by consumers:")
    for event in restored.received:
        print(f"    {event.created_at.isoformat()}  {event.event_type}  key {event.key}")
    print(f"  the database before the restore: {restored.aside} (drop it once done)")
    print(f"  report: {report_file}")


def _aware(moment: datetime) -> datetime:
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


@contextmanager
def _database(data_dir: Path) -> Iterator[tuple[str, bool]]:
    """(the socket folder, whether make run's supervisor runs): its Postgres, or the
    data folder's started for the command alone."""
    try:
        state = read_state(data_dir)
        if _alive(state["pid"]):
            yield state["postgres"]["socket_dir"], True
            return
    except FileNotFoundError:
        pass
    server = EmbeddedPostgres(Path(data_dir).resolve() / "postgres")
    server.start()
    try:
        assert server.socket_dir is not None
        yield server.socket_dir, False
    finally:
        server.stop()


def _restart_postgres(data_dir: Path, supervised: bool, socket_dir: str) -> str:
    if supervised:
        _ask(data_dir, "restart", "postgres")
        return read_state(data_dir)["postgres"]["socket_dir"]
    server = EmbeddedPostgres(Path(data_dir).resolve() / "postgres")
    server.start()  # the handle of this process: the same running server
    server.restart()
    return server.socket_dir or socket_dir


def _ask(data_dir: Path, action: str, target: str, timeout: float = 60.0) -> dict[str, Any]:
    """A request to make run's supervisor (as rescue-ops sends them), and its answer."""
    control = Path(data_dir) / CONTROL_DIR
    request_id = f"{int(time.time() * 1000)}-{uuid.uuid4().hex[:8]}"
    temporary = control / f".{request_id}.tmp"
    temporary.write_text(json.dumps({"id": request_id, "action": action, "target": target}))
    os.replace(temporary, control / f"{request_id}.json")
    answer = control / f"{request_id}.done"
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if answer.exists():
            try:
                body = json.loads(answer.read_text())
            except ValueError:
                time.sleep(0.05)
                continue
            answer.unlink(missing_ok=True)
            if action != "stop" and not body.get("ok"):
                raise backups.BackupError(f"{action} {target}: {body.get('message')}")
            return body
        time.sleep(0.1)
    raise backups.BackupError(f"the supervisor did not {action} {target} within {timeout:g}s")


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
