from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Query
from pydantic import BaseModel
from sqlalchemy import select

from referral.tables import Referral
from rescue_chassis.access import ensure_visible, sees_network
from rescue_chassis.auth import PrincipalDep
from rescue_chassis.db import SessionDep
from rescue_chassis.problems import Problem
from rescue_chassis.runtime import RuntimeDep
from rescue_events.contracts import PartnerType, PersonCategory

router = APIRouter(prefix="/referrals", tags=["referrals"])


class ReferralView(BaseModel):
    id: uuid.UUID
    person_id: uuid.UUID
    station_id: str
    partner_type: PartnerType
    reason: PersonCategory
    status: str
    opened_at: datetime


@router.get("", response_model=list[ReferralView])
async def list_referrals(
    principal: PrincipalDep,
    session: SessionDep,
    runtime: RuntimeDep,
    person_id: uuid.UUID | None = None,
    partner_type: PartnerType | None = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
):
    query = select(Referral).order_by(Referral.opened_at.desc()).limit(limit)
    if not sees_network(principal, runtime.network):
        query = query.where(Referral.station_id == principal.station_id)
    if person_id:
        query = query.where(Referral.person_id == person_id)
    if partner_type:
        query = query.where(Referral.partner_type == partner_type.value)
    rows = (await session.scalars(query)).all()
    return [ReferralView.model_validate(r, from_attributes=True) for r in rows]


@router.get("/{referral_id}", response_model=ReferralView)
async def get_referral(
    referral_id: uuid.UUID, principal: PrincipalDep, session: SessionDep, runtime: RuntimeDep
):
    found = await session.get(Referral, referral_id)
    if found is None:
        raise Problem(404, "Not found", "No such referral.")
    ensure_visible(principal, runtime.network, "referral", found.station_id)
    return ReferralView.model_validate(found, from_attributes=True)
