"""The partners' own API: an agency sees the referrals sent to it, as its feed
shows them, and answers. (Partners can also answer on rescue.partner.answers.)"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Annotated

from fastapi import APIRouter, Depends, Query
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import select

from referral.domain import ANSWER_STATUS, ReferralRefused
from referral.feeds import partner_feed
from referral.lifecycle import change_status
from referral.tables import Agency, Person, Referral
from rescue_chassis.access import PARTNER_TYPES
from rescue_chassis.auth import PrincipalDep, require_roles
from rescue_chassis.db import SessionDep
from rescue_chassis.problems import Problem
from rescue_chassis.runtime import RuntimeDep
from rescue_events.contracts import PartnerAnswerKind, ReferralStatus

router = APIRouter(
    prefix="/partner/referrals",
    tags=["partner API"],
    dependencies=[require_roles(*PARTNER_TYPES)],
)
NOT_YET_SENT = (ReferralStatus.CREATED.value, ReferralStatus.AWAITING_CONSENT.value)


class Answer(BaseModel):
    model_config = ConfigDict(extra="forbid")

    answer: PartnerAnswerKind
    note: str | None = Field(
        default=None, max_length=2000, description="Why declined; the outcome when completed."
    )


class PartnerReferralView(BaseModel):
    status: str
    feed: dict


async def agency_of(principal: PrincipalDep, session: SessionDep) -> str:
    """The caller's agency: its token names it (station_id) and must carry the role of
    the agency's type as the directory has it (a hospital's system is no police)."""
    agency = await session.get(Agency, principal.station_id)
    if agency is None or agency.partner_type not in principal.roles:
        raise Problem(
            403,
            "Forbidden",
            "This token's agency is not in the partner directory with the token's partner type.",
        )
    return agency.id


AgencyDep = Annotated[str, Depends(agency_of)]


async def addressed_to(session, agency_id: str, referral_id: uuid.UUID, *, for_update=False):
    referral = await session.get(Referral, referral_id, with_for_update=for_update)
    if referral is None or referral.agency_id != agency_id or referral.status in NOT_YET_SENT:
        raise Problem(404, "Not found", "No such referral for your agency.")
    return referral


@router.get("", response_model=list[PartnerReferralView])
async def my_referrals(
    agency_id: AgencyDep,
    session: SessionDep,
    runtime: RuntimeDep,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
):
    """Only the referrals sent to the caller's agency, with only its feed's fields."""
    rows = (
        await session.execute(
            select(Referral, Person)
            .join(Person, Person.person_id == Referral.person_id)
            .where(Referral.agency_id == agency_id, Referral.status.not_in(NOT_YET_SENT))
            .order_by(Referral.sent_at.desc())
            .limit(limit)
        )
    ).all()
    return [
        PartnerReferralView(
            status=referral.status,
            feed=partner_feed(runtime.network, referral, person, referral.sent_at).model_dump(
                mode="json"
            ),
        )
        for referral, person in rows
    ]


@router.post("/{referral_id}/answers", response_model=PartnerReferralView)
async def answer(
    referral_id: uuid.UUID,
    body: Answer,
    principal: PrincipalDep,
    agency_id: AgencyDep,
    session: SessionDep,
    runtime: RuntimeDep,
):
    referral = await addressed_to(session, agency_id, referral_id, for_update=True)
    try:
        await change_status(
            session,
            runtime,
            referral,
            ANSWER_STATUS[body.answer],
            by=f"{agency_id}:{principal.subject}",
            now=datetime.now(UTC),
            note=body.note,
        )
    except ReferralRefused as error:
        raise Problem(409, "Not possible now", error.reason) from None
    person = await session.get(Person, referral.person_id)
    result = PartnerReferralView(
        status=referral.status,
        feed=partner_feed(runtime.network, referral, person, referral.sent_at).model_dump(
            mode="json"
        ),
    )
    await session.commit()
    return result
