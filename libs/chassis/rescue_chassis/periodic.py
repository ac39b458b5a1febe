"""Periodic jobs: deadline sweeps that must survive restarts and replicas.

A job runs in its own transaction every ``interval`` seconds. The deadlines
themselves live in the database, so a restart loses nothing: the next run
finds whatever fell due meanwhile. Jobs must be safe to run concurrently in
several replicas (lock the rows they change, e.g. ``FOR UPDATE SKIP LOCKED``,
and write their events through the outbox in the same transaction), so each
deadline raises its event exactly once.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime

from opentelemetry import trace
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

log = logging.getLogger(__name__)
tracer = trace.get_tracer(__name__)

# (session, now) -> how many records the run changed
JobRun = Callable[[AsyncSession, datetime], Awaitable[int]]


@dataclass
class JobStatus:
    """What ops sees of a job (`GET /ops/periodic`): is the sweep running at all?"""

    runs: int = 0
    failures: int = 0
    last_run_at: datetime | None = None
    last_changed: int = 0
    last_error: str | None = None


@dataclass(frozen=True)
class PeriodicJob:
    name: str
    run: JobRun
    status: JobStatus = field(default_factory=JobStatus, compare=False)


async def run_once(sessions: async_sessionmaker[AsyncSession], job: PeriodicJob) -> int:
    with tracer.start_as_current_span(f"periodic {job.name}"):
        async with sessions() as session:
            changed = await job.run(session, datetime.now(UTC))
            await session.commit()
    if changed:
        log.info("%s changed %d record(s)", job.name, changed)
    return changed


async def run_forever(
    sessions: async_sessionmaker[AsyncSession], jobs: list[PeriodicJob], interval: float
) -> None:
    while True:
        for job in jobs:
            try:
                job.status.last_changed = await run_once(sessions, job)
                job.status.last_error = None
            except asyncio.CancelledError:
                raise
            except Exception as error:
                # The database may be away; the deadlines wait in it for the next run.
                log.exception("periodic job %s failed; retrying in %.0fs", job.name, interval)
                job.status.failures += 1
                job.status.last_error = type(error).__name__
            job.status.runs += 1
            job.status.last_run_at = datetime.now(UTC)
        await asyncio.sleep(interval)
