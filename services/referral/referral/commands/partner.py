"""A partner agency answers a referral sent to it: by its API or on the answers
topic, the same rules."""

from __future__ import annotations

import uuid

from pydantic import BaseModel, ConfigDict, Field

from referral.commands.referrals import NOT_YET_SENT
from referral.domain import ANSWER_STATUS
from referral.lifecycle import change_status
from referral.tables import Agency, Person, Referral
from referral.views import PartnerReferralView, partner_view
from rescue_chassis.commands import Command, UnitOfWork
from rescue_chassis.refusals import Forbidden, NotFound, Refused
from rescue_events.contracts import PartnerAnswerKind


class Answer(BaseModel):
    model_config = ConfigDict(extra="forbid")

    answer: PartnerAnswerKind
    note: str | None = Field(
        default=None, max_length=2000, description="Why declined; the outcome when completed."
    )


class AnswerReferral(Command):
    referral_id: uuid.UUID
    agency_id: str
    answer: Answer
    by: str = Field(description="Who answered, as the status change records it.")
    person_id: uuid.UUID | None = Field(
        default=None, description="The person the answer names, when it names one."
    )


async def agency_of(uow: UnitOfWork) -> str:
    """The caller's agency: its token names it (station_id) and must carry the role of
    the agency's type as the directory has it (a hospital's system is no police)."""
    agency = await uow.get(Agency, uow.actor.station_id)
    if agency is None or agency.partner_type not in uow.actor.roles:
        raise Forbidden(
            "Forbidden",
            "This token's agency is not in the partner directory with the token's partner type.",
        )
    return agency.id


async def answer_referral(command: AnswerReferral, uow: UnitOfWork) -> PartnerReferralView:
    """Only a referral sent to the agency; one not sent yet answers as none. A caller
    answers for its own agency; a consumer for the agency the answer names. A
    decline says why (the station has to find another way)."""
    if (
        command.answer.answer is PartnerAnswerKind.DECLINED
        and not (command.answer.note or "").strip()
    ):
        raise Refused("note", "a declined referral needs its reason")
    if uow.actor is not None and await agency_of(uow) != command.agency_id:
        raise NotFound("referral", "No such referral for your agency.")
    referral = await uow.get(Referral, command.referral_id, lock=True)
    if (
        referral is None
        or referral.agency_id != command.agency_id
        or referral.status in NOT_YET_SENT
        or command.person_id not in (None, referral.person_id)
    ):
        raise NotFound("referral", "No such referral for your agency.")
    await change_status(
        uow,
        referral,
        ANSWER_STATUS[command.answer.answer],
        by=command.by,
        note=command.answer.note,
    )
    return partner_view(uow.network, referral, await uow.get(Person, referral.person_id))
