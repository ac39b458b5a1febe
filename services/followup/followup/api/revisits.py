"""What is overdue now: missed revisits of the caller's station (the center: all)."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Query
from sqlalchemy import select

from followup.api.common import scoped
from followup.domain import RecordStatus, RevisitStatus
from followup.tables import Revisit, StabilisationRecord
from followup.views import OverdueRevisitView
from rescue_chassis.access import STATION_WORK
from rescue_chassis.auth import PrincipalDep, require_roles
from rescue_chassis.db import SessionDep
from rescue_chassis.runtime import RuntimeDep

router = APIRouter(
    prefix="/revisits", tags=["return stabilisation"], dependencies=[require_roles(*STATION_WORK)]
)


@router.get("/overdue", response_model=list[OverdueRevisitView])
async def overdue_revisits(
    principal: PrincipalDep,
    session: SessionDep,
    runtime: RuntimeDep,
    level: Literal["overdue", "escalated"] | None = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 200,
):
    query = scoped(
        select(Revisit, StabilisationRecord)
        .join(StabilisationRecord, StabilisationRecord.id == Revisit.record_id)
        .where(
            Revisit.status == RevisitStatus.OVERDUE.value,
            StabilisationRecord.status == RecordStatus.ACTIVE.value,
        )
        .order_by(Revisit.due_on)
        .limit(limit),
        principal,
        runtime,
    )
    if level == "escalated":
        query = query.where(Revisit.escalated_at.is_not(None))
    return [
        OverdueRevisitView(
            record_id=record.id,
            person_id=record.person_id,
            full_name=record.full_name,
            station_id=record.station_id,
            sequence=revisit.sequence,
            due_on=revisit.due_on,
            assigned_to=revisit.assigned_to,
            overdue_at=revisit.overdue_at,
            escalated_at=revisit.escalated_at,
        )
        for revisit, record in (await session.execute(query)).all()
    ]
