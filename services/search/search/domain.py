"""Search rules (DOMAIN.md, "The life of a case", 2). No I/O here."""

from __future__ import annotations

from datetime import datetime, timedelta

# The family-search notice goes up within 24 hours of arrival (全国救助寻亲网).
NOTICE_DEADLINE = timedelta(hours=24)


def notice_due_at(arrived_at: datetime) -> datetime:
    return arrived_at + NOTICE_DEADLINE


def notice_overdue(due_at: datetime, published_at: datetime | None, now: datetime) -> bool:
    return published_at is None and now > due_at
