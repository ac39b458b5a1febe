"""Summary's /metrics figures of the national submissions (summary.metrics), read from a
migrated database: what RescueNationalSubmissionFailing and ...Overdue alert on."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy.ext.asyncio import AsyncSession, create_async_engine
from support import migrated_database

from summary.app import service as summary_service
from summary.metrics import WORK_METRICS
from summary.tables import Submission

NOW = datetime(2026, 12, 7, 22, 0, tzinfo=UTC)


def submission(month: str, *, age: timedelta, status="pending", attempts=0, error=None):
    return Submission(
        id=uuid.uuid4(),
        month=month,
        requested_by="coordinator",
        requested_at=NOW - age,
        table={"month": month},
        status=status,
        attempts=attempts,
        next_attempt_at=NOW if status == "pending" else None,
        last_error=error,
        received_at=NOW if status == "received" else None,
    )


@pytest.fixture
async def session(postgres):
    url = await migrated_database(postgres, summary_service.migrations_dir)
    engine = create_async_engine(url)
    async with AsyncSession(engine, expire_on_commit=False) as session:
        yield session
    await engine.dispose()


async def figures(session) -> dict[str, dict[tuple[str, ...], float]]:
    return {metric.name: dict(await metric.read(session, NOW)) for metric in WORK_METRICS}


async def test_failing_and_overdue_submissions_are_counted_per_month(session):
    session.add_all(
        [
            # queued a minute ago, not tried yet: neither
            submission("2026-11", age=timedelta(minutes=1)),
            # tried three times, the national system refused: failing
            submission("2026-11", age=timedelta(hours=2), attempts=3, error="HTTP 503"),
            # a day and more without a receipt, still failing: both
            submission("2026-10", age=timedelta(hours=25), attempts=20, error="ConnectError"),
            # received, however late and after failures: neither
            submission("2026-09", age=timedelta(days=3), status="received", attempts=4),
        ]
    )
    await session.commit()

    assert await figures(session) == {
        "rescue_national_submissions_failing": {("2026-11",): 1.0, ("2026-10",): 1.0},
        "rescue_national_submissions_overdue": {("2026-10",): 1.0},
    }


async def test_nothing_waiting_shows_no_series(session):
    session.add(submission("2026-11", age=timedelta(days=2), status="received", attempts=1))
    await session.commit()
    assert await figures(session) == {
        "rescue_national_submissions_failing": {},
        "rescue_national_submissions_overdue": {},
    }
