"""A referral's steps, written once for the staff's and partners' use cases, the
event consumers and the sweeps: open, route to the responsible agency, ask
consent, send, and every later status, each with its event."""

from __future__ import annotations

import uuid

from referral.deliveries.outbound import Feed, deliver
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
from rescue_chassis.commands import UnitOfWork
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
    uow: UnitOfWork, person: Person, rule: ReferralRule, *, opened_by: str
) -> Referral | None:
    """Open (once per person, partner and reason) and take it as far as it can go."""
    if await uow.find(
        Referral,
        person_id=person.person_id,
        partner_type=rule.partner_type.value,
        reason=rule.reason,
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
        opened_at=uow.now,
        opened_by=opened_by,
    )
    referral.agency_id = await responsible_agency(uow, rule, person)
    uow.add(referral)
    await uow.publish(
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
            opened_at=uow.now,
        )
    )
    await advance(uow, referral, person)
    return referral


async def responsible_agency(uow: UnitOfWork, rule: ReferralRule, person: Person) -> str | None:
    """The agency of the registered home (or, until that is known, of the station's
    own area) for home-bound rules; the agency where the person is for the others."""
    serving = await uow.find(Agency, partner_type=rule.partner_type.value, active=True)
    agencies = [(agency.id, agency.jurisdiction_code) for agency in serving]
    station = uow.network.station(person.station_id)
    here = station.admin_code if station else None
    if rule.by_registered_home:
        home = person.registered_home_admin_code
        # A former code is kept as given; the agencies serve current divisions.
        home_now = (division_codes().resolve(home) or home) if home else None
        return choose_agency(agencies, home_now, here)
    return choose_agency(agencies, here)


async def reroute(uow: UnitOfWork, referral: Referral, person: Person) -> bool:
    """Look again for the agency of a referral still waiting for one, and send it on
    if there is one now; whether it has an agency."""
    rule = rules().by_reason.get(referral.reason)
    if rule is None:
        return False
    referral.agency_id = await responsible_agency(uow, rule, person)
    await advance(uow, referral, person)
    return referral.agency_id is not None


async def advance(uow: UnitOfWork, referral: Referral, person: Person) -> None:
    """created → awaiting consent → sent, as far as the facts allow."""
    if referral.status == S.CREATED.value and referral.agency_id is None:
        return  # the routing sweep retries once an agency serves the area
    waiting = referral.consent_required and referral.consent not in ("given", "override")
    if referral.status == S.CREATED.value and waiting:
        await change_status(uow, referral, S.AWAITING_CONSENT, by=SYSTEM)
    elif referral.status in (S.CREATED.value, S.AWAITING_CONSENT.value) and not waiting:
        await send(uow, referral, person)


async def send(uow: UnitOfWork, referral: Referral, person: Person) -> None:
    """Deliver the partner's minimal feed event to its agency alone (its topic, its
    webhook, its pull feed); the referral's own deadlines track the answer."""
    deadlines = rules().deadlines[PartnerType(referral.partner_type)]
    referral.sent_at = uow.now
    referral.acknowledge_by = acknowledgement_due(uow.now, deadlines)
    await change_status(uow, referral, S.SENT, by=SYSTEM)
    await deliver(
        uow,
        agency_id=referral.agency_id,
        feed=Feed.REFERRAL,
        event=partner_feed(uow.network, referral, person, uow.now),
        subject_id=referral.person_id,
        source_event_id=referral.id,  # a referral is sent once
    )


async def change_status(
    uow: UnitOfWork,
    referral: Referral,
    new: ReferralStatus,
    *,
    by: str,
    note: str | None = None,
) -> None:
    """The referral's next status and its event; a step the lifecycle does not
    allow is a ``Conflict`` (``check_transition``)."""
    previous = S(referral.status)
    check_transition(previous, new)
    now = uow.now
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
    await uow.publish(
        ReferralStatusChangedV1(
            person_id=referral.person_id,
            referral_id=referral.id,
            agency_id=referral.agency_id,
            status=new,
            previous_status=previous,
            changed_by=by,
            changed_at=now,
            note=note,
        )
    )
