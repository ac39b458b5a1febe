"""The sweep that sends queued submissions to the national system, with backoff."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncSession

from rescue_chassis.periodic import PeriodicJob
from rescue_chassis.runtime import Runtime
from summary import national, statements

MAX_BACKOFF = timedelta(hours=1)


def backoff(settings, attempts: int) -> timedelta:
    """After the n-th failed try: the base, doubled each time, at most an hour."""
    seconds = settings.national_system_retry_base_seconds * 2 ** max(attempts - 1, 0)
    return min(timedelta(seconds=seconds), MAX_BACKOFF)


def jobs(runtime: Runtime) -> list[PeriodicJob]:
    center = runtime.network.center
    reporting = {"station_id": center.id, "name": center.name}

    async def send_submissions(session: AsyncSession, now: datetime) -> int:
        # Rows stay locked while they are sent: another replica never sends one twice.
        sent = 0
        for row in await statements.due_submissions(session, now):
            answer = await national.send(runtime.settings, row, reporting)
            row.attempts += 1
            if answer.received:
                row.status = "received"
                row.received_at = datetime.now(now.tzinfo)
                row.receipt_id = answer.receipt_id
                row.next_attempt_at = None
                row.last_error = None
                sent += 1
            else:
                row.last_error = answer.error
                row.next_attempt_at = now + backoff(runtime.settings, row.attempts)
        return sent

    return [PeriodicJob("national_submissions", send_submissions)]
