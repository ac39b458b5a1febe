from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Annotated

from fastapi import APIRouter, Query
from pydantic import BaseModel
from sqlalchemy import select

from followup.tables import Revisit, StabilisationRecord
from rescue_chassis.access import ensure_visible, sees_network
from rescue_chassis.auth import PrincipalDep
from rescue_chassis.db import SessionDep
from rescue_chassis.problems import Problem
from rescue_chassis.runtime import RuntimeDep

router = APIRouter(prefix="/stabilisations", tags=["return stabilisation"])


class RevisitView(BaseModel):
    sequence: int
    due_on: date
    status: str


class StabilisationView(BaseModel):
    id: uuid.UUID
    person_id: uuid.UUID
    return_id: uuid.UUID
    station_id: str
    home_province: str
    home_address: str
    home_admin_code: str | None
    received_by: str
    handed_over_at: datetime
    opened_at: datetime
    status: str
    revisits: list[RevisitView]


async def _view(session, record: StabilisationRecord) -> StabilisationView:
    revisits = (
        await session.scalars(
            select(Revisit).where(Revisit.record_id == record.id).order_by(Revisit.sequence)
        )
    ).all()
    return StabilisationView.model_validate(
        {**record.model_dump(), "revisits": [r.model_dump() for r in revisits]}
    )


@router.get("", response_model=list[StabilisationView])
async def list_stabilisations(
    principal: PrincipalDep,
    session: SessionDep,
    runtime: RuntimeDep,
    person_id: uuid.UUID | None = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
):
    """The ledger of returned persons (返乡受助人员信息台账) for the caller's station."""
    query = select(StabilisationRecord).order_by(StabilisationRecord.opened_at.desc()).limit(limit)
    if not sees_network(principal, runtime.network):
        query = query.where(StabilisationRecord.station_id == principal.station_id)
    if person_id:
        query = query.where(StabilisationRecord.person_id == person_id)
    return [await _view(session, r) for r in (await session.scalars(query)).all()]


@router.get("/{record_id}", response_model=StabilisationView)
async def get_stabilisation(
    record_id: uuid.UUID, principal: PrincipalDep, session: SessionDep, runtime: RuntimeDep
):
    record = await session.get(StabilisationRecord, record_id)
    if record is None:
        raise Problem(404, "Not found", "No such stabilisation record.")
    ensure_visible(principal, runtime.network, "stabilisation record", record.station_id)
    return await _view(session, record)
