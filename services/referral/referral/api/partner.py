"""The partners' own API: an agency sees the referrals sent to it, as its feed
shows them, and answers. (Partners can also answer on rescue.partner.answers.)"""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Depends, Query

from referral import queries
from referral.commands import partner
from referral.commands.partner import Answer
from referral.views import PartnerReferralView
from rescue_chassis.access import PARTNER_TYPES
from rescue_chassis.auth import PrincipalDep, require_roles
from rescue_chassis.commands import Run, UnitOfWork
from rescue_chassis.db import SessionDep
from rescue_chassis.runtime import RuntimeDep

router = APIRouter(
    prefix="/partner/referrals",
    tags=["partner API"],
    dependencies=[require_roles(*PARTNER_TYPES)],
)


async def _agency_of(principal: PrincipalDep, session: SessionDep, runtime: RuntimeDep) -> str:
    return await partner.agency_of(UnitOfWork(session, runtime, principal))


#: The caller's agency, as the directory has it (403 otherwise).
AgencyDep = Annotated[str, Depends(_agency_of)]


@router.get("", response_model=list[PartnerReferralView])
async def my_referrals(
    agency_id: AgencyDep,
    session: SessionDep,
    runtime: RuntimeDep,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
):
    """Only the referrals sent to the caller's agency, with only its feed's fields."""
    return await queries.agency_referrals(session, runtime.network, agency_id, limit)


@router.post("/{referral_id}/answers", response_model=PartnerReferralView)
async def answer(referral_id: uuid.UUID, body: Answer, principal: PrincipalDep, run: Run):
    """The agency's answer: acknowledged, accepted, declined, in progress, completed."""
    agency_id = principal.station_id  # the use case checks the directory
    command = partner.AnswerReferral(
        referral_id=referral_id,
        agency_id=agency_id,
        answer=body,
        by=f"{agency_id}:{principal.subject}",
    )
    return await run(partner.answer_referral, command)
