"""Referral's use cases on an in-memory unit of work (rescue_chassis.testing)."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import pytest

from referral import statements
from referral.commands.partner import Answer, AnswerReferral, answer_referral
from referral.commands.partners import AgencyEntry, PutPartner, put_partner
from referral.commands.referrals import (
    ConsentDecision,
    RecordConsent,
    ReferByRules,
    ReferByStaffDecision,
    ReferralRequest,
    Revocation,
    RevokeReferral,
    RouteHome,
    record_consent,
    refer_by_rules,
    refer_by_staff_decision,
    revoke_referral,
    route_home,
)
from referral.deliveries import store
from referral.tables import Agency, PartnerDelivery, Person, Referral
from rescue_chassis.auth import Principal
from rescue_chassis.refusals import Conflict, Forbidden, NotFound, Refused
from rescue_chassis.testing import FakeUnitOfWork
from rescue_events.contracts import (
    PartnerReferral,
    PartnerType,
    ReferralOpenedV2,
    ReferralStatus,
    ReferralStatusChangedV1,
)

S = ReferralStatus
NOW = datetime(2026, 12, 7, 9, 0, tzinfo=UTC)


def worker(station_id: str) -> Principal:
    return Principal(subject="w1", station_id=station_id, roles=frozenset({"station_staff"}))


def partner_system(agency: Agency, kind: str | None = None) -> Principal:
    roles = frozenset({"partner", kind or agency.partner_type})
    return Principal(subject="p1", station_id=agency.id, roles=roles)


def person(station_id: str = "gushi", categories=(), home: str | None = None) -> Person:
    return Person(
        person_id=uuid.uuid4(),
        station_id=station_id,
        sex="female",
        estimated_age=30,
        categories=list(categories),
        full_name="王某",
        registered_home_admin_code=home,
    )


def agency(
    partner_type: str = "social_organisation", code: str = "411525", webhook: str | None = None
) -> Agency:
    return Agency(
        id=f"{partner_type.replace('_', '-')}-{uuid.uuid4().hex[:6]}",
        name="机构",
        partner_type=partner_type,
        jurisdiction_code=code,
        contacts=[],
        webhook_url=webhook,
        webhook_secret="s" * 32 if webhook else None,
        active=True,
        created_at=NOW,
    )


def referral_of(held: Person, to: Agency | None, status: S, **values) -> Referral:
    return Referral(
        id=uuid.uuid4(),
        person_id=held.person_id,
        station_id=held.station_id,
        partner_type=to.partner_type if to else "social_organisation",
        reason=values.pop("reason", "job"),
        agency_id=to.id if to else None,
        mandatory=values.pop("mandatory", False),
        consent_required=values.pop("consent_required", True),
        status=status.value,
        opened_at=NOW - timedelta(days=1),
        opened_by="w1",
        **values,
    )


def statuses(uow: FakeUnitOfWork) -> list[S]:
    return [e.status for e in uow.events if isinstance(e, ReferralStatusChangedV1)]


@pytest.fixture(autouse=True)
def stored(monkeypatch):
    """The service's own SQL (referral.statements), as the fake's rows."""

    async def person_as_stored(uow, person_id):
        return await uow.get(Person, person_id)

    async def waiting_referrals(uow, person_id):
        return await uow.find(Referral, person_id=person_id, status=S.CREATED.value)

    monkeypatch.setattr(statements, "person_as_stored", person_as_stored)
    monkeypatch.setattr(statements, "waiting_referrals", waiting_referrals)


@pytest.fixture(autouse=True)
def topics(monkeypatch) -> list[str]:
    """The topics deliveries were published on (in the fake's events, in order)."""
    published: list[str] = []

    async def publish_on(uow, event, topic):
        published.append(topic)
        await uow.publish(event)

    monkeypatch.setattr(store, "publish_on", publish_on)
    return published


# ---- staff referrals ---------------------------------------------------------------------


async def test_a_staff_referral_goes_to_the_agency_of_the_area_and_waits_for_consent():
    held, local = person(), agency()
    uow = FakeUnitOfWork(actor=worker("gushi"), rows=[held, local], now=NOW)

    view = await refer_by_staff_decision(
        ReferByStaffDecision(request=ReferralRequest(person_id=held.person_id, reason="job")), uow
    )

    assert (view.agency_id, view.status, view.opened_by) == (local.id, "awaiting_consent", "w1")
    assert isinstance(uow.events[0], ReferralOpenedV2)
    assert uow.events[0].partner_type is PartnerType.SOCIAL_ORGANISATION
    assert statuses(uow) == [S.AWAITING_CONSENT]


async def test_a_reason_without_a_rule_is_refused_naming_the_field():
    held = person()
    uow = FakeUnitOfWork(actor=worker("gushi"), rows=[held])
    request = ReferralRequest(person_id=held.person_id, reason="a_pony")

    with pytest.raises(Refused) as refused:
        await refer_by_staff_decision(ReferByStaffDecision(request=request), uow)
    assert refused.value.field == "reason"
    assert "job" in refused.value.reason  # the known reasons are listed
    assert uow.all(Referral) == []


async def test_another_stations_person_is_refused_as_one_never_admitted():
    held = person("gushi")
    uow = FakeUnitOfWork(actor=worker("xixian"), rows=[held])

    refusals = []
    for person_id in (held.person_id, uuid.uuid4()):
        request = ReferralRequest(person_id=person_id, reason="housing")
        with pytest.raises(Refused) as refused:
            await refer_by_staff_decision(ReferByStaffDecision(request=request), uow)
        refusals.append((refused.value.field, refused.value.reason))
    assert refusals[0] == refusals[1] == ("person_id", "no such person has been admitted")


async def test_the_same_referral_twice_is_a_conflict():
    held = person()
    uow = FakeUnitOfWork(actor=worker("gushi"), rows=[held, agency()])
    command = ReferByStaffDecision(request=ReferralRequest(person_id=held.person_id, reason="job"))
    await refer_by_staff_decision(command, uow)

    with pytest.raises(Conflict) as conflict:
        await refer_by_staff_decision(command, uow)
    assert conflict.value.title == "Referral exists"
    assert len(uow.all(Referral)) == 1


# ---- consent and revocation --------------------------------------------------------------


async def test_given_consent_sends_the_feed_and_queues_the_webhook(topics):
    held, to = person(), agency(webhook="https://partner.example.cn/hook")
    waiting = referral_of(held, to, S.AWAITING_CONSENT)
    uow = FakeUnitOfWork(actor=worker("gushi"), rows=[held, to, waiting], now=NOW)

    view = await record_consent(
        RecordConsent(referral_id=waiting.id, consent=ConsentDecision(decision="given")), uow
    )

    assert (view.status, view.consent, view.sent_at) == ("sent", "given", NOW)
    assert view.acknowledge_by == NOW + timedelta(hours=72)  # social organisations' deadline
    assert statuses(uow) == [S.SENT]
    (feed,) = [e for e in uow.events if isinstance(e, PartnerReferral)]
    assert (feed.referral_id, feed.agency_id) == (waiting.id, to.id)
    assert topics == [f"rescue.partner.agency.{to.id}"]  # the agency's own topic alone
    (delivery,) = uow.all(PartnerDelivery)
    assert (delivery.agency_id, delivery.feed, delivery.source_event_id) == (
        to.id,
        "referral",
        waiting.id,
    )
    assert (delivery.webhook_status, delivery.webhook_next_attempt_at) == ("pending", NOW)


async def test_a_refused_consent_revokes_the_referral_with_the_refusal_on_record():
    held, to = person(), agency()
    waiting = referral_of(held, to, S.AWAITING_CONSENT)
    uow = FakeUnitOfWork(actor=worker("gushi"), rows=[held, to, waiting], now=NOW)
    refusal = ConsentDecision(decision="refused", note="本人不愿意")

    view = await record_consent(RecordConsent(referral_id=waiting.id, consent=refusal), uow)

    assert (view.status, view.closed_at) == ("revoked", NOW)
    assert view.outcome == "the person refused: 本人不愿意"
    assert statuses(uow) == [S.REVOKED]
    assert not any(isinstance(e, PartnerReferral) for e in uow.events)


@pytest.mark.parametrize(
    ("status", "consent_required", "title"),
    [(S.SENT, True, "Already sent"), (S.AWAITING_CONSENT, False, "No consent needed")],
)
async def test_consent_is_a_conflict_once_sent_or_where_the_rules_need_none(
    status, consent_required, title
):
    held, to = person(), agency()
    found = referral_of(held, to, status, consent_required=consent_required)
    uow = FakeUnitOfWork(actor=worker("gushi"), rows=[held, to, found])

    with pytest.raises(Conflict) as conflict:
        await record_consent(
            RecordConsent(referral_id=found.id, consent=ConsentDecision(decision="given")), uow
        )
    assert conflict.value.title == title
    assert found.consent is None and uow.events == []


async def test_revoking_a_mandatory_referral_is_recorded_as_an_exception():
    held, to = person(), agency("police")
    sent = referral_of(held, to, S.SENT, reason="abuse", mandatory=True, consent_required=False)
    uow = FakeUnitOfWork(actor=worker("gushi"), rows=[held, to, sent], now=NOW)

    view = await revoke_referral(
        RevokeReferral(referral_id=sent.id, revocation=Revocation(reason="家属已报案")), uow
    )

    assert view.outcome == "exception to a mandatory referral: 家属已报案"
    (changed,) = uow.events
    assert (changed.previous_status, changed.status, changed.changed_by) == (
        S.SENT,
        S.REVOKED,
        "w1",
    )


async def test_a_completed_referral_cannot_be_revoked():
    held, to = person(), agency()
    done = referral_of(held, to, S.COMPLETED)
    uow = FakeUnitOfWork(actor=worker("gushi"), rows=[held, to, done])

    with pytest.raises(Conflict) as conflict:
        await revoke_referral(
            RevokeReferral(referral_id=done.id, revocation=Revocation(reason="x")), uow
        )
    assert (conflict.value.title, conflict.value.status) == ("Not possible now", 409)
    assert done.status == "completed" and uow.events == []


async def test_another_stations_referral_is_not_found():
    held, to = person("gushi"), agency()
    sent = referral_of(held, to, S.SENT)
    uow = FakeUnitOfWork(actor=worker("xixian"), rows=[held, to, sent])

    with pytest.raises(NotFound):
        await revoke_referral(
            RevokeReferral(referral_id=sent.id, revocation=Revocation(reason="x")), uow
        )
    assert sent.status == "sent"


# ---- the partners' answers ---------------------------------------------------------------


def answering(referral: Referral, to: Agency, answer: str, **values) -> AnswerReferral:
    return AnswerReferral(
        referral_id=referral.id,
        agency_id=to.id,
        answer=Answer(answer=answer),
        by=f"{to.id}:p1",
        **values,
    )


async def test_a_partner_accepting_starts_its_deadline_to_act():
    held, to = person(), agency()
    sent = referral_of(
        held, to, S.SENT, sent_at=NOW - timedelta(hours=1), acknowledge_by=NOW + timedelta(days=2)
    )
    uow = FakeUnitOfWork(actor=partner_system(to), rows=[held, to, sent], now=NOW)

    view = await answer_referral(answering(sent, to, "accepted"), uow)

    assert view.status == "accepted" and view.feed["referral_id"] == str(sent.id)
    assert (sent.acknowledged_at, sent.act_by) == (NOW, NOW + timedelta(days=30))
    (changed,) = uow.events
    assert (changed.status, changed.changed_by) == (S.ACCEPTED, f"{to.id}:p1")


async def test_a_partner_sees_neither_another_agencys_referral_nor_one_not_sent_yet():
    held, to, other = person(), agency(), agency()
    theirs = referral_of(held, other, S.SENT)
    unsent = referral_of(held, to, S.AWAITING_CONSENT, reason="housing")
    uow = FakeUnitOfWork(actor=partner_system(to), rows=[held, to, other, theirs, unsent])

    for referral in (theirs, unsent):
        with pytest.raises(NotFound) as missing:
            await answer_referral(answering(referral, to, "acknowledged"), uow)
        assert missing.value.detail == "No such referral for your agency."
    assert uow.events == []


async def test_an_answer_on_the_topic_naming_another_person_is_not_found():
    held, to = person(), agency()
    sent = referral_of(held, to, S.SENT)
    uow = FakeUnitOfWork(actor=None, rows=[held, to, sent])

    with pytest.raises(NotFound):
        await answer_referral(answering(sent, to, "acknowledged", person_id=uuid.uuid4()), uow)
    assert sent.status == "sent"


async def test_a_token_of_an_agency_the_directory_has_with_another_type_is_forbidden():
    held, to = person(), agency("womens_federation")
    sent = referral_of(held, to, S.SENT)
    uow = FakeUnitOfWork(actor=partner_system(to, "police"), rows=[held, to, sent])

    with pytest.raises(Forbidden):
        await answer_referral(answering(sent, to, "acknowledged"), uow)


@pytest.mark.parametrize("note", [None, "  "])
async def test_a_decline_without_its_reason_is_refused_naming_the_note(note):
    held, to = person(), agency()
    sent = referral_of(held, to, S.SENT)
    uow = FakeUnitOfWork(actor=partner_system(to), rows=[held, to, sent])
    command = AnswerReferral(
        referral_id=sent.id,
        agency_id=to.id,
        answer=Answer(answer="declined", note=note),
        by=f"{to.id}:p1",
    )

    with pytest.raises(Refused) as refused:
        await answer_referral(command, uow)
    assert (refused.value.status, refused.value.field) == (422, "note")
    assert sent.status == "sent" and uow.events == []


async def test_an_answer_out_of_order_is_a_conflict():
    held, to = person(), agency()
    sent = referral_of(held, to, S.SENT)
    uow = FakeUnitOfWork(actor=partner_system(to), rows=[held, to, sent])

    with pytest.raises(Conflict, match="a sent referral cannot become completed"):
        await answer_referral(answering(sent, to, "completed"), uow)
    assert sent.status == "sent" and uow.events == []


# ---- what the consumers run --------------------------------------------------------------


async def test_a_minor_is_referred_at_once_without_consent():
    minor, protection = person(categories=["minor"]), agency("minor_protection")
    uow = FakeUnitOfWork(rows=[minor, protection], now=NOW)

    (view,) = await refer_by_rules(
        ReferByRules(person_id=minor.person_id, reasons=["minor"], opened_by="rule"), uow
    )

    assert (view.agency_id, view.consent_required, view.status) == (protection.id, False, "sent")
    assert statuses(uow) == [S.SENT]
    assert (
        await refer_by_rules(  # the same admission again opens nothing
            ReferByRules(person_id=minor.person_id, reasons=["minor"], opened_by="rule"), uow
        )
        == []
    )


async def test_a_referral_with_no_agency_waits_until_the_registered_home_has_one():
    victim = person(categories=["domestic_violence_victim"])
    federation = agency("womens_federation", code="511324")  # her home county, not the station's
    uow = FakeUnitOfWork(rows=[victim, federation], now=NOW)
    command = ReferByRules(
        person_id=victim.person_id, reasons=["domestic_violence_victim"], opened_by="rule"
    )
    (opened,) = await refer_by_rules(command, uow)
    assert (opened.status, opened.agency_id) == ("created", None)

    victim.registered_home_admin_code = "511324"
    (routed,) = await route_home(RouteHome(person_id=victim.person_id), uow)

    assert (routed.agency_id, routed.status) == (federation.id, "awaiting_consent")
    assert statuses(uow) == [S.AWAITING_CONSENT]


# ---- the partner directory ---------------------------------------------------------------


async def test_a_webhook_without_its_secret_is_refused():
    entry = AgencyEntry(
        name="仪陇县妇联",
        partner_type="womens_federation",
        jurisdiction_code="511324",
        webhook_url="https://partner.example.cn/hook",
    )
    uow = FakeUnitOfWork()

    with pytest.raises(Refused) as refused:
        await put_partner(PutPartner(agency_id="yilong-fl", entry=entry), uow)
    assert refused.value.field == "webhook_secret"
    assert uow.all(Agency) == []


async def test_putting_a_partner_adds_it_then_updates_it():
    uow = FakeUnitOfWork(now=NOW)
    entry = {"name": "息县公安局", "partner_type": "police", "jurisdiction_code": "411528"}
    await put_partner(PutPartner(agency_id="xixian-police", entry=AgencyEntry(**entry)), uow)

    moved = AgencyEntry(**(entry | {"name": "息县公安局刑侦大队", "active": False}))
    view = await put_partner(PutPartner(agency_id="xixian-police", entry=moved), uow)

    (stored_agency,) = uow.all(Agency)
    assert (view.name, view.active) == ("息县公安局刑侦大队", False)
    assert (stored_agency.created_at, stored_agency.active) == (NOW, False)
