"""Filing the table with the national system, and the table's station scoping, on fakes."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from types import SimpleNamespace

import pytest

from rescue_chassis.auth import Principal
from rescue_chassis.refusals import Conflict, Forbidden, Refused
from rescue_chassis.testing import FakeUnitOfWork
from rescue_events.contracts import PersonAdmittedV1
from summary import national, queries, statements, sweeps
from summary.commands.submissions import SubmitTable, submit_table
from summary.facts import CHINA, fact_of
from summary.figures import Month
from summary.tables import Submission

NOW = datetime(2026, 12, 2, 9, tzinfo=UTC)
SETTINGS = SimpleNamespace(
    national_system_url="https://national.example/tables", national_system_retry_base_seconds=30.0
)


def who(station: str, *roles: str) -> Principal:
    return Principal(subject=f"{station}-user", station_id=station, roles=frozenset(roles))


def admission(station: str):
    moment = datetime(2026, 11, 5, 10, tzinfo=CHINA)
    return fact_of(
        str(uuid.uuid4()),
        PersonAdmittedV1(
            person_id=uuid.uuid4(), station_id=station, arrived_at=moment, admitted_at=moment,
            arrival_route="own_request", identity_status="unknown", sex="female",
        ),
    )  # fmt: skip


@pytest.fixture(autouse=True)
def facts(monkeypatch):
    found = [admission("gushi"), admission("gushi"), admission("xixian")]

    async def facts_for(uow, month):
        return found

    monkeypatch.setattr(statements, "facts_for", facts_for)
    return found


async def test_a_satellite_sees_its_station_the_center_the_network():
    satellite = FakeUnitOfWork(actor=who("gushi", "station_staff"))
    mine = await queries.table(satellite, Month(2026, 11))
    assert [s.station_id for s in mine.stations] == ["gushi"]
    assert mine.network.figures["admissions"] == 2
    center = FakeUnitOfWork(actor=who("center", "center_coordinator"))
    whole = await queries.table(center, Month(2026, 11))
    assert {s.station_id: s.figures["admissions"] for s in whole.stations} == {
        "center": 0, "gushi": 2, "guangshan": 0, "xixian": 1,
    }  # fmt: skip
    assert whole.network.figures["admissions"] == 3
    assert whole.labels["admissions"] == "入站人次"


async def test_the_center_queues_the_networks_table():
    uow = FakeUnitOfWork(actor=who("center", "center_coordinator"), now=NOW, settings=SETTINGS)
    view = await submit_table(SubmitTable(month="2026-11"), uow)
    (row,) = uow.all(Submission)
    assert (view.status, view.month, row.next_attempt_at) == ("pending", "2026-11", NOW)
    assert row.table["network"]["figures"]["admissions"] == 3


async def test_a_satellite_cannot_file_the_networks_table():
    uow = FakeUnitOfWork(actor=who("gushi", "center_coordinator"), now=NOW, settings=SETTINGS)
    with pytest.raises(Forbidden):
        await submit_table(SubmitTable(month="2026-11"), uow)


async def test_without_a_national_endpoint_nothing_is_queued():
    unset = SimpleNamespace(national_system_url=None)
    uow = FakeUnitOfWork(actor=who("center", "center_coordinator"), now=NOW, settings=unset)
    with pytest.raises(Conflict) as refused:
        await submit_table(SubmitTable(month="2026-11"), uow)
    assert "RESCUE_NATIONAL_SYSTEM_URL" in refused.value.detail
    assert uow.all(Submission) == []


async def test_a_bad_month_is_refused_naming_the_field():
    uow = FakeUnitOfWork(actor=who("center", "center_coordinator"), now=NOW, settings=SETTINGS)
    with pytest.raises(Refused) as refused:
        await submit_table(SubmitTable(month="2026-13"), uow)
    assert refused.value.field == "month"


async def test_the_sweep_retries_with_backoff_until_a_receipt(monkeypatch):
    row = Submission(
        id=uuid.uuid4(), month="2026-11", requested_by="c", requested_at=NOW, table={},
        status="pending", attempts=0, next_attempt_at=NOW,
    )  # fmt: skip
    answers = [
        national.Answer(False, error="HTTP 503"),
        national.Answer(False, error="HTTP 502"),
        national.Answer(True, receipt_id="NAT-7"),
    ]
    sent = []

    async def due(session, now, limit=10):
        return [row] if row.status == "pending" and row.next_attempt_at <= now else []

    async def send(settings, submission, reporting):
        sent.append((submission.id, reporting["station_id"]))
        return answers.pop(0)

    monkeypatch.setattr(statements, "due_submissions", due)
    monkeypatch.setattr(national, "send", send)
    runtime = SimpleNamespace(settings=SETTINGS, network=FakeUnitOfWork().network)
    (job,) = sweeps.jobs(runtime)
    assert await job.run(None, NOW) == 0
    assert row.next_attempt_at == NOW + timedelta(seconds=30)
    assert await job.run(None, NOW + timedelta(seconds=10)) == 0  # not due yet
    assert await job.run(None, NOW + timedelta(seconds=30)) == 0
    assert row.next_attempt_at == NOW + timedelta(seconds=90)
    assert await job.run(None, NOW + timedelta(seconds=90)) == 1
    assert (row.status, row.receipt_id, row.attempts, row.last_error) == (
        "received",
        "NAT-7",
        3,
        None,
    )
    assert sent == [(row.id, "center")] * 3


def test_backoff_doubles_up_to_an_hour():
    assert [sweeps.backoff(SETTINGS, n).total_seconds() for n in (1, 2, 3)] == [30, 60, 120]
    assert sweeps.backoff(SETTINGS, 20) == timedelta(hours=1)


def test_the_national_endpoint_is_read_from_rescue_national_system_url(monkeypatch):
    from pydantic import ValidationError

    from summary.settings import SummarySettings

    base = dict(
        database_url="postgresql+asyncpg://u:p@db/summary",
        kafka_bootstrap_servers="kafka:9092",
        jwt_secret="x" * 40,
    )
    monkeypatch.setenv("RESCUE_NATIONAL_SYSTEM_URL", "https://national.example/tables")
    assert SummarySettings(**base).national_system_url == "https://national.example/tables"
    monkeypatch.setenv("RESCUE_NATIONAL_SYSTEM_URL", "")
    assert SummarySettings(**base).national_system_url is None
    monkeypatch.setenv("RESCUE_NATIONAL_SYSTEM_URL", "ftp://national.example/tables")
    with pytest.raises(ValidationError):
        SummarySettings(**base)
    # a loopback endpoint is refused by the outbound policy unless allowed
    monkeypatch.delenv("RESCUE_NATIONAL_SYSTEM_URL")
    policy = SummarySettings(**{**base, "environment": "development"}).national_system_policy
    assert policy.url_refusal("http://127.0.0.1:9/tables") is not None
