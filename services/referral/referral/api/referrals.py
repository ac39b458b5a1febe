"""Referrals as stations see them: list, open one by staff decision, record the
person's consent (or an override), revoke with a reason."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Annotated, Literal

from fastapi import APIRouter, Query
from pydantic import BaseModel, ConfigDict, Field, model_validator
from sqlalchemy import or_, select

from referral.domain import OPEN, ReferralRefused, rules
from referral.lifecycle import advance, change_status, open_referral
from referral.tables import Person, Referral
from referral.views import ReferralView
from rescue_chassis.access import (
    STATION_WORK,
    can_see,
    ensure_known_station,
    ensure_visible,
    sees_network,
)
from rescue_chassis.auth import PrincipalDep, require_roles
from rescue_chassis.db import SessionDep
from rescue_chassis.problems import Problem, invalid
from rescue_chassis.runtime import RuntimeDep
from rescue_events.contracts import PartnerType, ReferralStatus

router = APIRouter(
    prefix="/referrals", tags=["referrals"], dependencies=[require_roles(*STATION_WORK)]
)
Note = Annotated[str, Field(min_length=1, max_length=2000)]


class ReferralRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    person_id: uuid.UUID
    reason: str = Field(
        min_length=1,
        max_length=40,
        examples=["minimum_living_allowance"],
        description="A reason of the rules (rules.yaml): e.g. job, housing, legal_aid, abuse.",
    )


class ConsentDecision(BaseModel):
    model_config = ConfigDict(extra="forbid")

    decision: Literal["given", "refused", "override"]
    note: Note | None = Field(
        default=None, description="Required to refuse or override: what was said, and why."
    )

    @model_validator(mode="after")
    def _say_why(self) -> ConsentDecision:
        if self.decision != "given" and not self.note:
            raise ValueError(f"note: a {self.decision} consent needs a recorded reason")
        return self


class Revocation(BaseModel):
    model_config = ConfigDict(extra="forbid")

    reason: Note


def view(referral: Referral) -> ReferralView:
    return ReferralView.model_validate(referral)


async def load(session, runtime, principal, referral_id, *, for_update=False) -> Referral:
    found = await session.get(Referral, referral_id, with_for_update=for_update)
    if found is None:
        raise Problem(404, "Not found", "No such referral.")
    ensure_visible(principal, runtime.network, "referral", found.station_id)
    return found


def refused(error: ReferralRefused) -> Problem:
    return Problem(409, "Not possible now", error.reason)


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
    query = select(Referral).order_by(Referral.opened_at.desc()).limit(limit)
    if not sees_network(principal, runtime.network):
        query = query.where(Referral.station_id == principal.station_id)
    if person_id:
        query = query.where(Referral.person_id == person_id)
    if partner_type:
        query = query.where(Referral.partner_type == partner_type.value)
    if status:
        query = query.where(Referral.status == status.value)
    if overdue:
        query = query.where(
            Referral.status.in_([s.value for s in OPEN]),
            or_(
                Referral.acknowledgement_overdue_at.is_not(None),
                Referral.action_overdue_at.is_not(None),
            ),
        )
    return [view(r) for r in (await session.scalars(query)).all()]


@router.get("/{referral_id}", response_model=ReferralView)
async def get_referral(
    referral_id: uuid.UUID, principal: PrincipalDep, session: SessionDep, runtime: RuntimeDep
):
    return view(await load(session, runtime, principal, referral_id))


@router.post("", status_code=201, response_model=ReferralView)
async def refer_by_staff_decision(
    request: ReferralRequest, principal: PrincipalDep, session: SessionDep, runtime: RuntimeDep
):
    """Staff refer a need the automatic rules do not cover (job, housing, support…)."""
    ensure_known_station(principal, runtime.network)
    rule = rules().by_reason.get(request.reason)
    if rule is None:
        known = ", ".join(sorted(rules().by_reason))
        raise invalid("reason", f"no referral rule for it; known reasons: {known}")
    person = await session.get(Person, request.person_id)
    # another station's person answers as one never admitted: no existence leak
    if person is None or not can_see(principal, runtime.network, person.station_id):
        raise invalid("person_id", "no such person has been admitted")
    opened = await open_referral(
        session, runtime, person, rule, opened_by=principal.subject, now=datetime.now(UTC)
    )
    if opened is None:
        raise Problem(409, "Referral exists", "This person already has this referral.")
    result = view(opened)
    await session.commit()
    return result


@router.post("/{referral_id}/consent", response_model=ReferralView)
async def record_consent(
    referral_id: uuid.UUID,
    consent: ConsentDecision,
    principal: PrincipalDep,
    session: SessionDep,
    runtime: RuntimeDep,
):
    """The person agrees (the referral is sent), refuses (it is revoked; a mandatory
    one only with the refusal recorded), or staff override with the reason."""
    referral = await load(session, runtime, principal, referral_id, for_update=True)
    if referral.status not in (ReferralStatus.CREATED.value, ReferralStatus.AWAITING_CONSENT.value):
        raise Problem(409, "Already sent", f"The referral is {referral.status}.")
    if not referral.consent_required:
        raise Problem(409, "No consent needed", "The rules send this referral without consent.")
    now = datetime.now(UTC)
    referral.consent = consent.decision
    referral.consent_note = consent.note
    referral.consent_recorded_by = principal.subject
    person = await session.get(Person, referral.person_id)
    if consent.decision == "refused":
        await change_status(
            session,
            runtime,
            referral,
            ReferralStatus.REVOKED,
            by=principal.subject,
            now=now,
            note=f"the person refused: {consent.note}",
        )
    else:
        await advance(session, runtime, referral, person, now=now)
    result = view(referral)
    await session.commit()
    return result


@router.post("/{referral_id}/revocation", response_model=ReferralView)
async def revoke(
    referral_id: uuid.UUID,
    revocation: Revocation,
    principal: PrincipalDep,
    session: SessionDep,
    runtime: RuntimeDep,
):
    """Withdraw a referral; for a mandatory one this is an exception, on record."""
    referral = await load(session, runtime, principal, referral_id, for_update=True)
    note = (
        f"exception to a mandatory referral: {revocation.reason}"
        if referral.mandatory
        else revocation.reason
    )
    try:
        await change_status(
            session,
            runtime,
            referral,
            ReferralStatus.REVOKED,
            by=principal.subject,
            now=datetime.now(UTC),
            note=note,
        )
    except ReferralRefused as error:
        raise refused(error) from None
    result = view(referral)
    await session.commit()
    return result
