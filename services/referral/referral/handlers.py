"""Referral listens to admissions (categories trigger the mandatory rules),
identities (the registered home decides the agency), help tasks from followup,
and the partners' answers: each the same use case a route runs, where there is one."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from referral import statements
from referral.commands import partner, referrals
from referral.deliveries import civil_affairs, police, regions
from referral.domain import rules
from rescue_chassis.commands import UnitOfWork
from rescue_chassis.refusals import Conflict, NotFound, Refused
from rescue_chassis.runtime import Runtime
from rescue_events.consumer import Rejected
from rescue_events.contracts import (
    HelpTaskOpenedV1,
    IdentityConfirmedV1,
    PartnerAnswerV1,
    PersonAdmittedV1,
)
from rescue_events.envelope import Envelope


def handlers(runtime: Runtime):
    async def when_person_admitted_refer_by_category(
        session: AsyncSession, event: PersonAdmittedV1, envelope: Envelope
    ) -> None:
        uow = UnitOfWork(session, runtime)
        # Every admission of the network passes here: the projection in one fixed
        # statement; the ORM only when a mandatory rule applies.
        await statements.remember_admitted(uow, event)
        mandatory = rules().for_reasons(c.value for c in event.categories)
        if mandatory:
            command = referrals.ReferByRules(
                person_id=event.person_id,
                reasons=[rule.reason for rule in mandatory],
                opened_by="rule",
            )
            await referrals.refer_by_rules(command, uow)

    async def when_identity_confirmed_route_home(
        session: AsyncSession, event: IdentityConfirmedV1, envelope: Envelope
    ) -> None:
        uow = UnitOfWork(session, runtime)
        await statements.remember_identity(uow, event)
        await referrals.route_home(referrals.RouteHome(person_id=event.person_id), uow)

    async def when_help_task_opened_refer(
        session: AsyncSession, event: HelpTaskOpenedV1, envelope: Envelope
    ) -> None:
        if event.difficulty.value not in rules().by_reason:
            return
        command = referrals.ReferByRules(
            person_id=event.person_id,
            reasons=[event.difficulty.value],
            opened_by="followup help task",
        )
        await referrals.refer_by_rules(command, UnitOfWork(session, runtime))

    async def when_partner_answers_apply(
        session: AsyncSession, event: PartnerAnswerV1, envelope: Envelope
    ) -> None:
        command = partner.AnswerReferral(
            referral_id=event.referral_id,
            agency_id=event.agency_id,
            answer=partner.Answer(answer=event.answer, note=event.note),
            by=event.agency_id,
            person_id=event.person_id,
        )
        try:
            await partner.answer_referral(command, UnitOfWork(session, runtime))
        except NotFound:
            raise Rejected(
                f"no referral {event.referral_id} for person {event.person_id} "
                f"sent to {event.agency_id}"
            ) from None
        except (Conflict, Refused) as refused:
            raise Rejected(refused.reason) from None

    return {
        PersonAdmittedV1: when_person_admitted_refer_by_category,
        IdentityConfirmedV1: when_identity_confirmed_route_home,
        HelpTaskOpenedV1: when_help_task_opened_refer,
        PartnerAnswerV1: when_partner_answers_apply,
        # the bureau's incidents and escalations, the notices to other regions
        **civil_affairs.handlers(runtime),
        **regions.handlers(runtime),
        # identity checks and DNA samples, to the police agency asked
        **police.handlers(runtime),
    }
