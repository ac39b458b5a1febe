"""A referral's steps, written once for the event handlers, the staff API, the
partner API and the sweeps: open, route to the responsible agency, ask consent,
send, and every later status, each with its event."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from referral import webhooks
from referral.domain import (
    ReferralRule,
    acknowledgement_due,
    action_due,
    check_transition,
    choose_agency,
    consent_needed,
    rules,
)
from referral.feeds import partner_feed
from referral.tables import Agency, Person, Referral
from rescue_chassis.runtime import Runtime
from rescue_divisions import division_codes
from rescue_events.contracts import (
    PartnerType,
    ReferralOpenedV2,
    ReferralStatus,
    ReferralStatusChangedV1,
)

S = ReferralStatus
SYSTEM = "system"


async def open_referral(
    session: AsyncSession,
    runtime: Runtime,
    person: Person,
    rule: ReferralRule,
    *,
    opened_by: str,
    now: datetime,
) -> Referral | None:
    """Open (once per person, partner and reason) and take it as far as it can go."""
    if await session.scalar(
        select(Referral.id).where(
            Referral.person_id == person.person_id,
            Referral.partner_type == rule.partner_type.value,
            Referral.reason == rule.reason,
        )
    ):
        return None
    referral = Referral(
        id=uuid.uuid4(),
        person_id=person.person_id,
        station_id=person.station_id,
        partner_type=rule.partner_type.value,
        reason=rule.reason,
        mandatory=rule.mandatory,
        consent_required=consent_needed(rule, person.categories),
        status=S.CREATED.value,
        opened_at=now,
        opened_by=opened_by,
    )
    referral.agency_id = await responsible_agency(session, runtime, rule, person)
    session.add(referral)
    await runtime.outbox.stage(
        session,
        ReferralOpenedV2(
            person_id=person.person_id,
            referral_id=referral.id,
            station_id=person.station_id,
            partner_type=rule.partner_type,
            reason=rule.reason,
            agency_id=referral.agency_id,
            mandatory=rule.mandatory,
            consent_required=referral.consent_required,
            status=S.CREATED,
            opened_at=now,
        ),
    )
    await advance(session, runtime, referral, person, now=now)
    return referral


async def responsible_agency(
    session: AsyncSession, runtime: Runtime, rule: ReferralRule, person: Person
) -> str | None:
    """The agency of the registered home (or, until that is known, of the station's
    own area) for home-bound rules; the agency where the person is for the others."""
    agencies = (
        await session.execute(
            select(Agency.id, Agency.jurisdiction_code).where(
                Agency.partner_type == rule.partner_type.value, Agency.active.is_(True)
            )
        )
    ).all()
    station = runtime.network.station(person.station_id)
    here = station.admin_code if station else None
    if rule.by_registered_home:
        home = person.registered_home_admin_code
        # A former code is kept as given; the agencies serve current divisions.
        home_now = (division_codes().resolve(home) or home) if home else None
        return choose_agency(agencies, home_now, here)
    return choose_agency(agencies, here)


async def advance(
    session: AsyncSession, runtime: Runtime, referral: Referral, person: Person, *, now: datetime
) -> None:
    """created → awaiting consent → sent, as far as the facts allow."""
    if referral.status == S.CREATED.value and referral.agency_id is None:
        return  # the routing sweep retries once an agency serves the area
    waiting = referral.consent_required and referral.consent not in ("given", "override")
    if referral.status == S.CREATED.value and waiting:
        await change_status(session, runtime, referral, S.AWAITING_CONSENT, by=SYSTEM, now=now)
    elif referral.status in (S.CREATED.value, S.AWAITING_CONSENT.value) and not waiting:
        await send(session, runtime, referral, person, now=now)


async def send(
    session: AsyncSession, runtime: Runtime, referral: Referral, person: Person, *, now: datetime
) -> None:
    """Publish the partner's minimal feed event (and queue the webhook)."""
    deadlines = rules().deadlines[PartnerType(referral.partner_type)]
    referral.sent_at = now
    referral.acknowledge_by = acknowledgement_due(now, deadlines)
    await change_status(session, runtime, referral, S.SENT, by=SYSTEM, now=now)
    feed = partner_feed(runtime.network, referral, person, now)
    await runtime.outbox.stage(session, feed)
    agency = await session.get(Agency, referral.agency_id)
    if agency is not None and agency.webhook_url:
        webhooks.enqueue(session, agency, feed, now)


async def change_status(
    session: AsyncSession,
    runtime: Runtime,
    referral: Referral,
    new: ReferralStatus,
    *,
    by: str,
    now: datetime,
    note: str | None = None,
) -> None:
    previous = S(referral.status)
    check_transition(previous, new)
    referral.status = new.value
    if new is S.ACKNOWLEDGED:
        referral.acknowledged_at = now
    elif new is S.ACCEPTED:
        referral.acknowledged_at = referral.acknowledged_at or now
        referral.accepted_at = now
        referral.act_by = action_due(now, rules().deadlines[PartnerType(referral.partner_type)])
    elif new in (S.COMPLETED, S.DECLINED, S.REVOKED):
        referral.closed_at = now
        referral.outcome = note
    await runtime.outbox.stage(
        session,
        ReferralStatusChangedV1(
            person_id=referral.person_id,
            referral_id=referral.id,
            agency_id=referral.agency_id,
            status=new,
            previous_status=previous,
            changed_by=by,
            changed_at=now,
            note=note,
        ),
    )
