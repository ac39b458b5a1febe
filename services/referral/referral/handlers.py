"""Referral listens to admissions (categories trigger the mandatory rules),
identities (the registered home decides the agency), help tasks from followup,
and the partners' answers."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from referral.domain import ANSWER_STATUS, ReferralRefused, rules
from referral.lifecycle import advance, change_status, open_referral, responsible_agency
from referral.tables import Person, Referral
from rescue_chassis.runtime import Runtime
from rescue_events.consumer import Rejected
from rescue_events.contracts import (
    HelpTaskOpenedV1,
    IdentityConfirmedV1,
    PartnerAnswerV1,
    PersonAdmittedV1,
    ReferralStatus,
)
from rescue_events.driver import begun, run, upsert_sql
from rescue_events.envelope import Envelope

REMEMBER_PERSON = upsert_sql(
    Person.__table__,
    (
        "person_id",
        "station_id",
        "sex",
        "estimated_age",
        "categories",
        "full_name",
        "registered_home_admin_code",
    ),
    key="person_id",
)


def handlers(runtime: Runtime):
    async def when_person_admitted_refer_by_category(
        session: AsyncSession, event: PersonAdmittedV1, envelope: Envelope
    ) -> None:
        categories = [c.value for c in event.categories]
        # Every admission of the network passes here: the projection in one fixed
        # statement on the driver (rescue_events.driver); the ORM only when a
        # mandatory rule applies.
        driver = await begun(session)
        args = (
            event.person_id,
            event.station_id,
            event.sex.value,
            event.estimated_age,
            categories,
            event.full_name,
            event.registered_home_admin_code,
        )
        await run(REMEMBER_PERSON, driver.execute(REMEMBER_PERSON, *args))
        mandatory = rules().for_reasons(categories)
        if not mandatory:
            return
        person = await session.get(Person, event.person_id, populate_existing=True)
        now = datetime.now(UTC)
        for rule in mandatory:
            await open_referral(session, runtime, person, rule, opened_by="rule", now=now)

    async def when_identity_confirmed_route_home(
        session: AsyncSession, event: IdentityConfirmedV1, envelope: Envelope
    ) -> None:
        values = dict(full_name=event.full_name, registered_home_admin_code=event.home_admin_code)
        await session.execute(
            insert(Person)
            .values(
                person_id=event.person_id,
                station_id=event.station_id,
                sex="unknown",
                categories=[],
                **values,
            )
            .on_conflict_do_update(index_elements=[Person.person_id], set_=values)
        )
        person = await session.get(Person, event.person_id, populate_existing=True)
        # Referrals still waiting for an agency may now have one at the registered home.
        waiting = (
            await session.scalars(
                select(Referral)
                .where(
                    Referral.person_id == event.person_id,
                    Referral.status == ReferralStatus.CREATED.value,
                )
                .with_for_update()
            )
        ).all()
        for referral in waiting:
            rule = rules().by_reason.get(referral.reason)
            if rule is not None:
                referral.agency_id = await responsible_agency(session, runtime, rule, person)
                await advance(session, runtime, referral, person, now=datetime.now(UTC))

    async def when_help_task_opened_refer(
        session: AsyncSession, event: HelpTaskOpenedV1, envelope: Envelope
    ) -> None:
        rule = rules().by_reason.get(event.difficulty.value)
        if rule is None:
            return
        person = await session.get(Person, event.person_id)
        if person is None:
            raise LookupError(f"person {event.person_id} was never admitted here")
        await open_referral(
            session, runtime, person, rule, opened_by="followup help task", now=datetime.now(UTC)
        )

    async def when_partner_answers_apply(
        session: AsyncSession, event: PartnerAnswerV1, envelope: Envelope
    ) -> None:
        referral = await session.get(Referral, event.referral_id, with_for_update=True)
        if referral is None or referral.person_id != event.person_id:
            raise Rejected(f"no referral {event.referral_id} for person {event.person_id}")
        if referral.agency_id != event.agency_id:
            raise Rejected(f"referral {event.referral_id} was not sent to {event.agency_id}")
        try:
            await change_status(
                session,
                runtime,
                referral,
                ANSWER_STATUS[event.answer],
                by=event.agency_id,
                now=datetime.now(UTC),
                note=event.note,
            )
        except ReferralRefused as refused:
            raise Rejected(refused.reason) from None

    return {
        PersonAdmittedV1: when_person_admitted_refer_by_category,
        IdentityConfirmedV1: when_identity_confirmed_route_home,
        HelpTaskOpenedV1: when_help_task_opened_refer,
        PartnerAnswerV1: when_partner_answers_apply,
    }
