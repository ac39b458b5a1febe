"""Figures for the summary tables (情况汇总表): repeat-wandering rate and revisit
compliance per town or county, over a period."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Literal

from fastapi import APIRouter
from sqlalchemy import and_, case, cast, exists, func, select
from sqlalchemy.types import Date

from followup.api.common import scoped
from followup.domain import RevisitStatus, rate
from followup.ledger import CHINA
from followup.tables import RepeatWandering, Revisit, StabilisationRecord
from followup.views import FiguresRow
from rescue_chassis.access import STATION_WORK
from rescue_chassis.auth import PrincipalDep, require_roles
from rescue_chassis.db import SessionDep
from rescue_chassis.moments import PeriodDay, ensure_period
from rescue_chassis.runtime import RuntimeDep

router = APIRouter(prefix="/figures", tags=["figures"], dependencies=[require_roles(*STATION_WORK)])


@router.get("", response_model=list[FiguresRow])
async def figures(
    principal: PrincipalDep,
    session: SessionDep,
    runtime: RuntimeDep,
    period_start: PeriodDay,
    period_end: PeriodDay,
    level: Literal["town", "county"] = "town",
):
    """Per jurisdiction: persons handed over in the period and how many of them were
    admitted again (repeat-wandering rate); revisits due in the period (up to today)
    and how many were made, and made on time (revisit compliance)."""
    ensure_period(period_start, period_end)
    today = datetime.now(UTC).astimezone(CHINA).date()
    code = StabilisationRecord.jurisdiction_code
    key = func.coalesce(code if level == "town" else func.substr(code, 1, 6), "unknown")
    handed_over_on = cast(func.timezone("Asia/Shanghai", StabilisationRecord.handed_over_at), Date)
    flagged = exists().where(RepeatWandering.record_id == StabilisationRecord.id)

    returned = scoped(
        select(
            key.label("key"),
            func.count().label("returned"),
            func.count().filter(flagged).label("repeat"),
        )
        .where(handed_over_on.between(period_start, period_end))
        .group_by(key),
        principal,
        runtime,
    )
    done = Revisit.status == RevisitStatus.DONE.value
    revisits = scoped(
        select(
            key.label("key"),
            func.count().label("due"),
            func.count().filter(done).label("made"),
            func.sum(case((and_(done, Revisit.visited_on <= Revisit.due_on), 1), else_=0)).label(
                "on_time"
            ),
        )
        .join(StabilisationRecord, StabilisationRecord.id == Revisit.record_id)
        .where(Revisit.due_on.between(period_start, min(period_end, today)))
        .group_by(key),
        principal,
        runtime,
    )
    rows: dict[str, dict] = {}
    for key_, returned_, repeat in (await session.execute(returned)).all():
        rows.setdefault(key_, {}).update(returned=returned_, repeat=repeat)
    for key_, due, made, on_time in (await session.execute(revisits)).all():
        rows.setdefault(key_, {}).update(due=due, made=made, on_time=on_time or 0)
    return [
        FiguresRow(
            jurisdiction_code=key_,
            returned=r.get("returned", 0),
            repeat_wanderers=r.get("repeat", 0),
            repeat_wandering_rate=rate(r.get("repeat", 0), r.get("returned", 0)),
            revisits_due=r.get("due", 0),
            revisits_made=r.get("made", 0),
            revisits_on_time=r.get("on_time", 0),
            revisit_compliance=rate(r.get("on_time", 0), r.get("due", 0)),
        )
        for key_, r in sorted(rows.items())
    ]
