"""Summary's figures for /metrics: tables queued for the national rescue information
system (全国救助管理信息系统) that it has not received: failing, or overdue."""

from datetime import timedelta

from sqlalchemy import func, select

from rescue_chassis.metrics import WorkMetric, grouped_count
from summary.tables import Submission

# A queued table the national system has not received a day after it was requested:
# the sweep retries at most an hour apart, so a day is many failed tries, not a slow one.
OVERDUE_AFTER = timedelta(hours=24)


async def _failing(session, now):
    return await grouped_count(
        session,
        select(Submission.month, func.count())
        .where(
            Submission.status == "pending",
            Submission.attempts > 0,
            Submission.last_error.is_not(None),
        )
        .group_by(Submission.month),
    )


async def _overdue(session, now):
    return await grouped_count(
        session,
        select(Submission.month, func.count())
        .where(Submission.status == "pending", Submission.requested_at <= now - OVERDUE_AFTER)
        .group_by(Submission.month),
    )


WORK_METRICS = [
    WorkMetric(
        "rescue_national_submissions_failing",
        "Summary tables queued for the national system whose last try failed (retried).",
        ("month",),
        _failing,
    ),
    WorkMetric(
        "rescue_national_submissions_overdue",
        "Summary tables the national system has not received 24 hours after they were queued.",
        ("month",),
        _overdue,
    ),
]
