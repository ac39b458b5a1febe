"""The local network's backup files and commands, without a database: manifests, the
newest backup, a damaged dump refused before any database is touched, the report of
what a restore lost, and the command line."""

from __future__ import annotations

import argparse
import asyncio
from datetime import UTC, datetime, timedelta

import pytest

from rescue_localnet import backups
from rescue_localnet.backup_cli import add_commands

TAKEN = datetime(2026, 12, 7, 13, 0, tzinfo=UTC)


def a_backup(folder, service="intake", taken_at=TAKEN, content=b"dump") -> backups.Backup:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{service}-{backups._stamp(taken_at)}.dump"
    path.write_bytes(content)
    made = backups.Backup(service, path, taken_at, 5, 1, backups._sha256(path))
    made.write_manifest()
    return made


def test_a_manifest_reads_back_as_written(tmp_path):
    made = a_backup(tmp_path / "backups")
    assert backups.Backup.read(made.path) == made


def test_the_newest_backup_of_the_service_is_restored_by_default(tmp_path):
    folder = backups.backups_dir(tmp_path)
    a_backup(folder, taken_at=TAKEN)
    newest = a_backup(folder, taken_at=TAKEN + timedelta(hours=1))
    a_backup(folder, service="search", taken_at=TAKEN + timedelta(hours=2))
    assert backups.latest_backup(tmp_path, "intake") == newest.path
    with pytest.raises(backups.BackupError, match="no backup of followup"):
        backups.latest_backup(tmp_path, "followup")


def test_a_dump_without_its_manifest_is_refused(tmp_path):
    stray = tmp_path / "intake-x.dump"
    stray.write_bytes(b"dump")
    with pytest.raises(backups.BackupError, match="no manifest"):
        backups.Backup.read(stray)


def test_a_damaged_dump_is_refused_before_any_database_is_touched(tmp_path):
    made = a_backup(tmp_path / "backups")
    made.path.write_bytes(b"dumq")  # one byte changed
    # no server at this socket folder: the check must come first
    with pytest.raises(backups.BackupError, match="sha256"):
        asyncio.run(backups.restore_database(str(tmp_path / "no-server"), made.path))


def test_the_report_names_what_consumers_received_of_the_lost_writes(tmp_path):
    made = a_backup(tmp_path / "backups")
    later = TAKEN + timedelta(minutes=5)
    restored = backups.Restored(
        service="intake",
        backup=made,
        aside="intake__before_x",
        to_send=["b"],
        sent_again=["b"],
        lost=[
            backups.OutboxEvent("c", "person_admitted", "person-c", later, later),
            backups.OutboxEvent("d", "person_admitted", "person-d", later, None),
        ],
    )
    assert [event.event_id for event in restored.received] == ["c"]
    report = restored.report()
    assert report["taken_at"] == TAKEN.isoformat()
    assert report["events_sent_again"] == 1
    assert [(e["event_id"], e["published_at"]) for e in report["lost"]] == [
        ("c", later.isoformat()),
        ("d", None),
    ]


def parse(*argv: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    add_commands(parser.add_subparsers(dest="command", required=True))
    return parser.parse_args(argv)


def test_the_command_line():
    assert parse("backup", "--service", "intake").service == "intake"
    assert parse("backup", "--base").base is True
    at = parse("restore", "--service", "intake", "--at", "2026-12-07T21:30:00+08:00").at
    assert at == datetime(2026, 12, 7, 13, 30, tzinfo=UTC)
    for wrong in (
        ("backup",),  # which one?
        ("backup", "--service", "intake", "--base"),
        ("backup", "--service", "billing"),
        ("restore", "--service", "intake", "--from", "x.dump", "--at", "2026-12-07T21:30"),
        ("restore", "--service", "intake", "--at", "yesterday"),
    ):
        with pytest.raises(SystemExit):
            parse(*wrong)
