"""Referral rules (DOMAIN.md, "The life of a case", 5), without I/O."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import pytest

from referral.domain import (
    TRANSITIONS,
    check_transition,
    choose_agency,
    consent_needed,
    parse_rules,
    rules,
)
from referral.feeds import partner_feed
from referral.tables import Person, Referral
from referral.webhooks import sign, verify
from rescue_chassis.network import load_network
from rescue_chassis.refusals import Conflict
from rescue_events.contracts import PartnerType, ReferralStatus

S = ReferralStatus


def test_categories_trigger_the_mandatory_rules_once_each_in_order():
    triggered = rules().for_reasons(
        ["domestic_violence_victim", "elderly", "domestic_violence_victim", "minor"]
    )
    assert [(r.reason, r.partner_type) for r in triggered] == [
        ("domestic_violence_victim", PartnerType.WOMENS_FEDERATION),
        ("minor", PartnerType.MINOR_PROTECTION),
    ]
    assert [r.partner_type for r in rules().for_reasons(["coerced_begging", "mental_illness"])] == [
        PartnerType.POLICE,
        PartnerType.HOSPITAL,
    ]


def test_needs_are_referred_by_staff_not_automatically():
    assert rules().for_reasons(["job", "minimum_living_allowance"]) == []
    assert rules().by_reason["minimum_living_allowance"].partner_type is PartnerType.CIVIL_AFFAIRS
    assert rules().by_reason["legal_aid"].partner_type is PartnerType.SOCIAL_ORGANISATION


def test_every_partner_type_has_deadlines():
    assert set(rules().deadlines) == set(PartnerType)


def test_the_rules_file_is_checked_when_read():
    with pytest.raises(ValueError, match="consent"):
        parse_rules(
            "rules: [{reason: x, partner_type: police, mandatory: true, consent: maybe, "
            "jurisdiction: station}]\ndeadlines: {}"
        )
    with pytest.raises(ValueError, match="no deadlines"):
        parse_rules("rules: []\ndeadlines: {police: {acknowledge_hours: 1, act_days: 1}}")


def test_a_capable_adult_consents_minors_and_the_incapable_do_not_have_to():
    dv = rules().by_reason["domestic_violence_victim"]
    assert consent_needed(dv, ["domestic_violence_victim"])
    assert not consent_needed(dv, ["domestic_violence_victim", "minor"])
    assert not consent_needed(rules().by_reason["minor"], ["minor"])
    assert not consent_needed(rules().by_reason["suspected_trafficking"], [])
    assert not consent_needed(rules().by_reason["job"], ["dementia"])
    assert consent_needed(rules().by_reason["job"], [])


def test_the_lifecycle_only_moves_forward():
    check_transition(S.SENT, S.ACKNOWLEDGED)
    check_transition(S.ACKNOWLEDGED, S.ACCEPTED)
    check_transition(S.IN_PROGRESS, S.COMPLETED)
    for done in (S.COMPLETED, S.DECLINED, S.REVOKED):
        assert TRANSITIONS[done] == set()
    with pytest.raises(Conflict, match="cannot become"):
        check_transition(S.AWAITING_CONSENT, S.ACKNOWLEDGED)
    with pytest.raises(Conflict):
        check_transition(S.SENT, S.COMPLETED)


def test_the_agency_of_the_registered_home_wins_then_the_most_specific():
    agencies = [("city", "4115"), ("county", "411502"), ("elsewhere", "5113")]
    assert choose_agency(agencies, "411502101", "411525") == "county"
    assert choose_agency(agencies, "411503", "411525") == "city"
    assert choose_agency(agencies, "620102", "411525") == "city"  # falls back to the station's
    assert choose_agency(agencies, None, None) is None
    assert choose_agency([], "411502") is None


def _person(categories):
    return Person(
        person_id=uuid.uuid4(),
        station_id="gushi",
        sex="female",
        estimated_age=34,
        categories=categories,
        full_name="张某",
        registered_home_admin_code="411502",
    )


def _referral(person, partner):
    now = datetime.now(UTC)
    return Referral(
        id=uuid.uuid4(),
        person_id=person.person_id,
        station_id="gushi",
        partner_type=partner,
        reason="x",
        agency_id="agency",
        mandatory=True,
        status="sent",
        opened_at=now,
        acknowledge_by=now + timedelta(hours=24),
        consent="given",
    )


def test_a_dv_victims_whereabouts_go_to_the_federation_only():
    network = load_network()
    victim = _person(["domestic_violence_victim", "suspected_trafficking"])
    now = datetime.now(UTC)
    federation = partner_feed(network, _referral(victim, "womens_federation"), victim, now)
    police = partner_feed(network, _referral(victim, "police"), victim, now)
    assert federation.contact_station_id == "gushi"
    assert police.contact_station_id == "center"
    for feed in (federation, police):
        fields = set(feed.model_dump())
        assert not fields & {"categories", "dna", "face", "stated_places", "stated_names"}
    assert "registered_home_admin_code" not in police.model_dump()


def test_a_webhook_signature_verifies_and_resists_tampering_and_replay():
    body = b'{"referral_id": "r"}'
    header = sign("s" * 32, 1_700_000_000, body)
    assert verify("s" * 32, header, body, now=1_700_000_010)
    assert not verify("s" * 32, header, body + b" ", now=1_700_000_010)
    assert not verify("t" * 32, header, body, now=1_700_000_010)
    assert not verify("s" * 32, header, body, now=1_700_000_000 + 3600)
    assert not verify("s" * 32, "garbage", body, now=1_700_000_000)
