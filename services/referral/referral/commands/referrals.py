"""Referrals as stations make them: by staff decision or by the rules (admissions,
followup's help tasks), the person's consent or its override, revocation, and
routing once the registered home is known."""

from __future__ import annotations

import uuid
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from referral import statements
from referral.domain import rules
from referral.lifecycle import advance, change_status, open_referral, reroute
from referral.tables import Person, Referral
from referral.views import ReferralView
from rescue_chassis.access import ensure_known_station
from rescue_chassis.commands import Command, UnitOfWork
from rescue_chassis.refusals import Conflict, Refused
from rescue_events.contracts import ReferralStatus

S = ReferralStatus
NOT_YET_SENT = (S.CREATED.value, S.AWAITING_CONSENT.value)
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


class ReferByStaffDecision(Command):
    request: ReferralRequest


class RecordConsent(Command):
    referral_id: uuid.UUID
    consent: ConsentDecision


class RevokeReferral(Command):
    referral_id: uuid.UUID
    revocation: Revocation


class ReferByRules(Command):
    """What a consumer learned calls for referrals: the reasons of the rules."""

    person_id: uuid.UUID
    reasons: list[str]
    opened_by: str


class RouteHome(Command):
    person_id: uuid.UUID


def view(referral: Referral) -> ReferralView:
    return ReferralView.model_validate(referral)


async def refer_by_staff_decision(command: ReferByStaffDecision, uow: UnitOfWork) -> ReferralView:
    """A need the automatic rules do not cover (job, housing, support…)."""
    ensure_known_station(uow.actor, uow.network)
    request = command.request
    rule = rules().by_reason.get(request.reason)
    if rule is None:
        known = ", ".join(sorted(rules().by_reason))
        raise Refused("reason", f"no referral rule for it; known reasons: {known}")
    person = await uow.get(Person, request.person_id)
    # another station's person answers as one never admitted: no existence leak
    if person is None or not uow.sees(person.station_id):
        raise Refused("person_id", "no such person has been admitted")
    opened = await open_referral(uow, person, rule, opened_by=uow.actor.subject)
    if opened is None:
        raise Conflict("Referral exists", "This person already has this referral.")
    return view(opened)


async def record_consent(command: RecordConsent, uow: UnitOfWork) -> ReferralView:
    """Given or overridden, the referral is sent; refused, it is revoked."""
    referral = await uow.load(Referral, command.referral_id, what="referral", lock=True)
    if referral.status not in NOT_YET_SENT:
        raise Conflict("Already sent", f"The referral is {referral.status}.")
    if not referral.consent_required:
        raise Conflict("No consent needed", "The rules send this referral without consent.")
    consent = command.consent
    referral.consent = consent.decision
    referral.consent_note = consent.note
    referral.consent_recorded_by = uow.actor.subject
    if consent.decision == "refused":
        note = f"the person refused: {consent.note}"
        await change_status(uow, referral, S.REVOKED, by=uow.actor.subject, note=note)
    else:
        await advance(uow, referral, await uow.get(Person, referral.person_id))
    return view(referral)


async def revoke_referral(command: RevokeReferral, uow: UnitOfWork) -> ReferralView:
    """Withdraw a referral; for a mandatory one this is an exception, on record."""
    referral = await uow.load(Referral, command.referral_id, what="referral", lock=True)
    reason = command.revocation.reason
    note = f"exception to a mandatory referral: {reason}" if referral.mandatory else reason
    await change_status(uow, referral, S.REVOKED, by=uow.actor.subject, note=note)
    return view(referral)


async def refer_by_rules(command: ReferByRules, uow: UnitOfWork) -> list[ReferralView]:
    """Open the referrals the rules of these reasons call for, each once."""
    person = await statements.person_as_stored(uow, command.person_id)
    if person is None:
        raise LookupError(f"person {command.person_id} was never admitted here")
    opened = []
    for reason in command.reasons:
        rule = rules().by_reason.get(reason)
        referral = rule and await open_referral(uow, person, rule, opened_by=command.opened_by)
        if referral is not None:
            opened.append(view(referral))
    return opened


async def route_home(command: RouteHome, uow: UnitOfWork) -> list[ReferralView]:
    """Referrals still waiting for an agency may have one at the registered home now."""
    person = await statements.person_as_stored(uow, command.person_id)
    waiting = await statements.waiting_referrals(uow, command.person_id)
    for referral in waiting:
        await reroute(uow, referral, person)
    return [view(referral) for referral in waiting]
