"""Figures for the summary tables (情况汇总表): repeat-wandering rate and revisit
compliance per town or county, over a period."""

from __future__ import annotations

from typing import Literal

from fastapi import APIRouter

from followup import queries
from followup.views import FiguresRow
from rescue_chassis.access import STATION_WORK
from rescue_chassis.auth import PrincipalDep, require_roles
from rescue_chassis.commands import UnitOfWork
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
    reading = UnitOfWork(session, runtime, principal)
    return await queries.figures(reading, period_start, period_end, level)
