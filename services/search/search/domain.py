"""Search rules (DOMAIN.md, "The life of a case", 2). No I/O here."""

from __future__ import annotations

from datetime import datetime, timedelta
from enum import StrEnum

# The family-search notice goes up within 24 hours of arrival (全国救助寻亲网).
NOTICE_DEADLINE = timedelta(hours=24)


def notice_due_at(arrived_at: datetime) -> datetime:
    return arrived_at + NOTICE_DEADLINE


def notice_overdue(due_at: datetime, published_at: datetime | None, now: datetime) -> bool:
    return published_at is None and now > due_at


class TaskKind(StrEnum):
    FAMILY_SEARCH_NOTICE = "family_search_notice"
    DNA_SAMPLE = "dna_sample"
    POLICE_CHECK = "police_check"


# Every unidentified person: a notice within 24 hours (national rule), and — as
# this network's practice — the police identity check asked within 24 hours and
# the DNA sample requested within 72.
TASK_DEADLINES = {
    TaskKind.FAMILY_SEARCH_NOTICE: NOTICE_DEADLINE,
    TaskKind.POLICE_CHECK: timedelta(hours=24),
    TaskKind.DNA_SAMPLE: timedelta(hours=72),
}


def task_due_at(kind: TaskKind, arrived_at: datetime) -> datetime:
    return arrived_at + TASK_DEADLINES[kind]
