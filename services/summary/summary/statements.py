"""The summary's own SQL: facts in, facts of a month out, the read model cleared."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import Uuid, and_, any_, bindparam, delete, func, or_, select
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncSession

from summary.facts import china_midnight
from summary.figures import Month
from summary.tables import Fact, Submission, tables

#: Facts other facts refer to (a referral's opening, a return's, a stabilisation's…).
ANCHORS = (
    "admitted",
    "identified",
    "notice_published",
    "return_opened",
    "handed_over",
    "escort_planned",
    "referral_opened",
    "stabilisation_opened",
    "revisit_recorded",
    "care_ended",
)
# Revisits fall due for a year after the stabilisation opened.
REVISIT_SPAN = timedelta(days=400)
_COLUMNS = [c.name for c in Fact.__table__.columns]


async def keep(session: AsyncSession, fact: Fact) -> None:
    """The fact, once: a second copy of the event (same id) changes nothing."""
    values = {name: getattr(fact, name) for name in _COLUMNS}
    await session.execute(pg_insert(Fact).values(**values).on_conflict_do_nothing())


def _uuids(name: str, values: set) -> object:
    return any_(bindparam(name, value=sorted(values, key=str), type_=ARRAY(Uuid())))


async def facts_for(uow, month: Month) -> list[Fact]:
    """The month's facts and every fact they refer to (through refs and persons), as
    summary.figures.tabulate needs them."""
    session: AsyncSession = uow.session
    start, end = month.start, month.end
    first = await session.scalars(
        select(Fact).where(
            or_(
                and_(Fact.at >= start, Fact.at < end),
                and_(
                    Fact.kind == "stabilisation_opened",
                    Fact.at >= china_midnight(month.first_day) - REVISIT_SPAN,
                    Fact.at < end,
                ),
                and_(Fact.kind == "care_started", Fact.at < end),
            )
        )
    )
    found = {fact.event_id: fact for fact in first}
    asked: tuple[set, set] = (set(), set())
    for _ in range(4):  # a revisit → its stabilisation → its handover → its return
        refs = {f.ref for f in found.values()} | {f.ref2 for f in found.values()}
        persons = {f.person_id for f in found.values()}
        refs, persons = refs - asked[0] - {None}, persons - asked[1] - {None}
        if not refs and not persons:
            break
        asked[0].update(refs)
        asked[1].update(persons)
        more = await session.scalars(
            select(Fact).where(
                Fact.kind.in_(ANCHORS),
                or_(
                    Fact.ref == _uuids("refs", refs),
                    Fact.ref2 == _uuids("refs2", refs),
                    Fact.person_id == _uuids("persons", persons),
                ),
            )
        )
        for fact in more:
            found.setdefault(fact.event_id, fact)
    return list(found.values())


async def count_facts(session: AsyncSession) -> int:
    return (await session.execute(select(func.count()).select_from(Fact))).scalar_one()


async def clear(session: AsyncSession, consumer: str) -> None:
    """Forget every fact and which events were applied: the next read of the topics
    applies them all again."""
    await session.execute(delete(Fact))
    inbox = tables.plumbing.inbox
    await session.execute(delete(inbox).where(inbox.c.consumer == consumer))


async def due_submissions(session: AsyncSession, now: datetime, limit: int = 10):
    """Submissions waiting for their next try, locked (another replica skips them)."""
    return list(
        await session.scalars(
            select(Submission)
            .where(Submission.status == "pending", Submission.next_attempt_at <= now)
            .order_by(Submission.next_attempt_at)
            .limit(limit)
            .with_for_update(skip_locked=True)
        )
    )


async def submissions_of(session: AsyncSession, month: str) -> list[Submission]:
    return list(
        await session.scalars(
            select(Submission).where(Submission.month == month).order_by(Submission.requested_at)
        )
    )
