"""Repeat wandering (屡送屡返): returned persons admitted again, for the origin
station and the admitting station."""

from __future__ import annotations

from fastapi import APIRouter
from sqlalchemy import or_, select

from followup.tables import RepeatWandering, StabilisationRecord
from followup.views import RepeatWanderingView
from rescue_chassis.access import STATION_WORK, sees_network
from rescue_chassis.auth import PrincipalDep, require_roles
from rescue_chassis.db import SessionDep
from rescue_chassis.runtime import RuntimeDep

router = APIRouter(
    prefix="/repeat-wanderings",
    tags=["repeat wandering"],
    dependencies=[require_roles(*STATION_WORK)],
)


@router.get("", response_model=list[RepeatWanderingView])
async def list_repeat_wanderings(principal: PrincipalDep, session: SessionDep, runtime: RuntimeDep):
    query = (
        select(RepeatWandering, StabilisationRecord)
        .join(StabilisationRecord, StabilisationRecord.id == RepeatWandering.record_id)
        .order_by(RepeatWandering.flagged_at.desc())
    )
    if not sees_network(principal, runtime.network):
        query = query.where(
            or_(
                RepeatWandering.origin_station_id == principal.station_id,
                RepeatWandering.admitting_station_id == principal.station_id,
            )
        )
    return [
        RepeatWanderingView(
            id=flag.id,
            record_id=record.id,
            person_id=flag.person_id,
            earlier_person_id=record.person_id,
            full_name=record.full_name,
            origin_station_id=flag.origin_station_id,
            admitting_station_id=flag.admitting_station_id,
            basis=flag.basis,
            flagged_at=flag.flagged_at,
        )
        for flag, record in (await session.execute(query)).all()
    ]
