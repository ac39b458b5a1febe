"""Referrals as stations see them: list, open one by staff decision, record the
person's consent (or an override), revoke with a reason."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Query

from referral import queries
from referral.commands import referrals
from referral.commands.referrals import ConsentDecision, ReferralRequest, Revocation
from referral.views import ReferralView
from rescue_chassis.access import STATION_WORK
from rescue_chassis.auth import PrincipalDep, require_roles
from rescue_chassis.commands import Run, UnitOfWork
from rescue_chassis.db import SessionDep
from rescue_chassis.runtime import RuntimeDep
from rescue_events.contracts import PartnerType, ReferralStatus

router = APIRouter(
    prefix="/referrals", tags=["referrals"], dependencies=[require_roles(*STATION_WORK)]
)


@router.get("", response_model=list[ReferralView])
async def list_referrals(
    principal: PrincipalDep,
    session: SessionDep,
    runtime: RuntimeDep,
    person_id: uuid.UUID | None = None,
    partner_type: PartnerType | None = None,
    status: ReferralStatus | None = None,
    overdue: bool = False,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
):
    """The caller's station's referrals (the center: all). ``overdue=true``: those a
    partner has let slip, still open."""
    reading = UnitOfWork(session, runtime, principal)
    return await queries.referrals(reading, person_id, partner_type, status, overdue, limit)


@router.get("/{referral_id}", response_model=ReferralView)
async def get_referral(
    referral_id: uuid.UUID, principal: PrincipalDep, session: SessionDep, runtime: RuntimeDep
):
    return await queries.referral(UnitOfWork(session, runtime, principal), referral_id)


@router.post("", status_code=201, response_model=ReferralView)
async def refer_by_staff_decision(request: ReferralRequest, run: Run):
    """Staff refer a need the automatic rules do not cover (job, housing, support…)."""
    return await run(
        referrals.refer_by_staff_decision,
        referrals.ReferByStaffDecision(request=request),
        location="/referrals/{id}",
    )


@router.post("/{referral_id}/consent", response_model=ReferralView)
async def record_consent(referral_id: uuid.UUID, consent: ConsentDecision, run: Run):
    """The person agrees (the referral is sent), refuses (it is revoked; a mandatory
    one only with the refusal recorded), or staff override with the reason."""
    return await run(
        referrals.record_consent,
        referrals.RecordConsent(referral_id=referral_id, consent=consent),
    )


@router.post("/{referral_id}/revocation", response_model=ReferralView)
async def revoke(referral_id: uuid.UUID, revocation: Revocation, run: Run):
    """Withdraw a referral; for a mandatory one this is an exception, on record."""
    return await run(
        referrals.revoke_referral,
        referrals.RevokeReferral(referral_id=referral_id, revocation=revocation),
    )
