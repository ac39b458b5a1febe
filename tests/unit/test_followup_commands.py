"""Followup's use cases on an in-memory unit of work (rescue_chassis.testing)."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

import pytest

from followup.commands.help_tasks import CompleteHelpTask, complete_help_task
from followup.tables import HelpTask, StabilisationRecord
from rescue_chassis.auth import Principal
from rescue_chassis.refusals import Conflict, NotFound
from rescue_chassis.testing import FakeUnitOfWork

NOW = datetime(2026, 12, 7, 9, 0, tzinfo=UTC)


def worker(station_id: str) -> Principal:
    return Principal(subject="w1", station_id=station_id, roles=frozenset({"station_staff"}))


def record(station_id: str, escort_station_id: str) -> StabilisationRecord:
    return StabilisationRecord(
        id=uuid.uuid4(),
        person_id=uuid.uuid4(),
        return_id=uuid.uuid4(),
        station_id=station_id,
        escort_station_id=escort_station_id,
        home_province="河南省",
        home_address="河南省信阳市固始县城关镇",
        received_by="李村长",
        handed_over_at=NOW,
        opened_at=NOW,
        status="active",
    )


def task_of(record: StabilisationRecord, status: str = "open") -> HelpTask:
    return HelpTask(
        id=uuid.uuid4(),
        record_id=record.id,
        revisit_sequence=1,
        difficulty="no_income",
        status=status,
        opened_at=NOW,
    )


async def test_completing_a_help_task_closes_it_with_its_outcome():
    held = record("gushi", "guangshan")
    task = task_of(held)
    uow = FakeUnitOfWork(actor=worker("guangshan"), rows=[held, task], now=NOW)

    view = await complete_help_task(CompleteHelpTask(task_id=task.id, outcome="已纳入低保"), uow)

    assert (view.status, view.outcome, view.closed_at) == ("done", "已纳入低保", NOW)
    assert task.status == "done"


async def test_a_closed_help_task_is_a_conflict():
    held = record("gushi", "gushi")
    task = task_of(held, status="done")
    uow = FakeUnitOfWork(actor=worker("gushi"), rows=[held, task])

    with pytest.raises(Conflict):
        await complete_help_task(CompleteHelpTask(task_id=task.id, outcome="x"), uow)


async def test_another_stations_help_task_is_not_found():
    held = record("gushi", "gushi")
    task = task_of(held)
    uow = FakeUnitOfWork(actor=worker("xixian"), rows=[held, task])

    with pytest.raises(NotFound):
        await complete_help_task(CompleteHelpTask(task_id=task.id, outcome="x"), uow)
    assert task.status == "open"
