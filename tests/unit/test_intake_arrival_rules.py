"""How people arrive, consent and refusal, medical first (issue 3): intake's pure
rules for arrival routes, hotline leads and hospital placements."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from intake.domain import (
    ArrivalSource,
    LeadStatus,
    OutOfOrder,
    check_admission,
    check_arrival_source,
    check_lead_closure,
    check_medical_first,
    check_moment,
    lead_assignment,
    lead_closure,
    lead_triage,
)
from rescue_chassis.refusals import Refused
from rescue_events.contracts import ArrivalRoute, PersonCategory
from rescue_events.contracts.intake_arrivals import LeadOutcome, LeadPriority, SuspectedCondition

NOW = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)
STATIONS = {"center", "gushi", "guangshan", "xixian"}
HOSPITAL = ArrivalSource(hospital="信阳市第五人民医院", discharge_reference="XY5Y-2026-1187")
NETWORK_STATION = ArrivalSource(station_id="xixian", transfer_reference="XX-ZY-031")
OUTSIDE_STATION = ArrivalSource(station_name="合肥市救助管理站", transfer_reference="HF-031")


def refused(**kwargs) -> Refused:
    with pytest.raises(Refused) as caught:
        check_arrival_source(admitting_station="gushi", network_stations=STATIONS, **kwargs)
    return caught.value


def source_ok(**kwargs) -> None:
    check_arrival_source(admitting_station="gushi", network_stations=STATIONS, **kwargs)


# ---- arrival routes and their data ------------------------------------------------


def test_a_hotline_tip_is_admitted_only_through_its_lead():
    assert refused(route=ArrivalRoute.HOTLINE_TIP, source=None).field == "arrival_route"
    source_ok(route=ArrivalRoute.HOTLINE_TIP, source=None, via_lead=True)


def test_a_hospital_transfer_names_the_hospital_and_its_discharge_reference():
    assert refused(route=ArrivalRoute.HOSPITAL_TRANSFER, source=None).field == "source"
    no_reference = ArrivalSource(hospital="信阳市第五人民医院")
    assert (
        refused(route=ArrivalRoute.HOSPITAL_TRANSFER, source=no_reference).field
        == "source.discharge_reference"
    )
    no_hospital = ArrivalSource(discharge_reference="X-1")
    assert (
        refused(route=ArrivalRoute.HOSPITAL_TRANSFER, source=no_hospital).field == "source.hospital"
    )
    assert refused(route=ArrivalRoute.HOSPITAL_TRANSFER, source=NETWORK_STATION).field == "source"
    source_ok(route=ArrivalRoute.HOSPITAL_TRANSFER, source=HOSPITAL)


def test_a_station_transfer_names_the_sending_station_and_its_reference():
    assert refused(route=ArrivalRoute.STATION_TRANSFER, source=None).field == "source"
    source_ok(route=ArrivalRoute.STATION_TRANSFER, source=NETWORK_STATION)
    source_ok(route=ArrivalRoute.STATION_TRANSFER, source=OUTSIDE_STATION)
    assert refused(route=ArrivalRoute.STATION_TRANSFER, source=HOSPITAL).field == "source"
    no_reference = ArrivalSource(station_id="xixian")
    assert (
        refused(route=ArrivalRoute.STATION_TRANSFER, source=no_reference).field
        == "source.transfer_reference"
    )


@pytest.mark.parametrize(
    "source",
    [
        ArrivalSource(transfer_reference="R-1"),  # no station at all
        ArrivalSource(station_id="xixian", station_name="息县站", transfer_reference="R-1"),
        ArrivalSource(station_id="nowhere", transfer_reference="R-1"),  # not of the network
        ArrivalSource(station_id="gushi", transfer_reference="R-1"),  # the admitting station
    ],
)
def test_the_sending_station_is_named_once_and_is_another_station(source):
    assert refused(route=ArrivalRoute.STATION_TRANSFER, source=source).field == "source.station_id"


@pytest.mark.parametrize("route", [ArrivalRoute.OWN_REQUEST, ArrivalRoute.STREET_PATROL])
def test_only_transfers_carry_a_source(route):
    assert refused(route=route, source=HOSPITAL).field == "source"
    source_ok(route=route, source=None)


# ---- medical first (先救治,后救助) -------------------------------------------------


@pytest.mark.parametrize("condition", list(SuspectedCondition))
def test_a_suspected_condition_sends_the_person_to_hospital_first(condition):
    with pytest.raises(Refused) as caught:
        check_medical_first([condition])
    assert caught.value.field == "suspected_conditions"
    assert "hospital" in caught.value.reason


def test_no_suspected_condition_is_no_obstacle():
    check_medical_first([])


def test_medical_first_comes_before_the_escort_rules():
    # drunk, escorted by police without consent or a handover record: hospital first
    with pytest.raises(Refused) as caught:
        check_admission(
            route=ArrivalRoute.STREET_PATROL,
            categories=set(),
            consent_given=None,
            has_handover_record=False,
            arrived_at=NOW,
            now=NOW,
            suspected_conditions=[SuspectedCondition.INTOXICATION],
        )
    assert caught.value.field == "suspected_conditions"


def test_without_consent_the_app_is_told_to_record_a_refusal():
    with pytest.raises(Refused) as caught:
        check_admission(
            route=ArrivalRoute.STREET_PATROL,
            categories={PersonCategory.ELDERLY},
            consent_given=False,
            has_handover_record=True,
            arrived_at=NOW,
            now=NOW,
        )
    assert caught.value.field == "consent_given"
    assert "POST /refusals" in caught.value.reason


def test_check_admission_applies_the_route_rules():
    with pytest.raises(Refused) as caught:
        check_admission(
            route=ArrivalRoute.HOTLINE_TIP,
            categories=set(),
            consent_given=None,
            has_handover_record=False,
            arrived_at=NOW,
            now=NOW,
        )
    assert caught.value.field == "arrival_route"


# ---- hotline leads -----------------------------------------------------------------


def test_a_lead_goes_received_triaged_assigned_closed():
    status = lead_triage(LeadStatus.RECEIVED)
    assert status is LeadStatus.TRIAGED
    status = lead_assignment(status, LeadPriority.URGENT)
    assert status is LeadStatus.ASSIGNED
    # the next shift takes over: reassigned
    assert lead_assignment(status, LeadPriority.URGENT) is LeadStatus.ASSIGNED
    assert lead_closure(status, LeadPriority.URGENT) is LeadStatus.CLOSED


@pytest.mark.parametrize(
    "step",
    [
        lambda: lead_triage(LeadStatus.TRIAGED),
        lambda: lead_triage(LeadStatus.CLOSED),
        lambda: lead_assignment(LeadStatus.RECEIVED, None),
        lambda: lead_assignment(LeadStatus.CLOSED, LeadPriority.NORMAL),
        lambda: lead_closure(LeadStatus.RECEIVED, None),
        lambda: lead_closure(LeadStatus.TRIAGED, LeadPriority.NORMAL),
        lambda: lead_closure(LeadStatus.CLOSED, LeadPriority.NORMAL),
    ],
)
def test_steps_out_of_order_are_refused(step):
    with pytest.raises(OutOfOrder):
        step()


def test_a_no_action_lead_closes_from_triage_and_is_never_assigned():
    assert lead_closure(LeadStatus.TRIAGED, LeadPriority.NO_ACTION) is LeadStatus.CLOSED
    with pytest.raises(OutOfOrder):
        lead_assignment(LeadStatus.TRIAGED, LeadPriority.NO_ACTION)


def test_only_an_admitted_closure_carries_an_admission():
    check_lead_closure(outcome=LeadOutcome.ADMITTED, has_admission=True, note=None)
    check_lead_closure(outcome=LeadOutcome.NOT_FOUND, has_admission=False, note=None)
    for outcome, has_admission in [(LeadOutcome.ADMITTED, False), (LeadOutcome.DUPLICATE, True)]:
        with pytest.raises(Refused) as caught:
            check_lead_closure(outcome=outcome, has_admission=has_admission, note=None)
        assert caught.value.field == "admission"


def test_a_referral_elsewhere_says_where():
    with pytest.raises(Refused) as caught:
        check_lead_closure(outcome=LeadOutcome.REFERRED_ELSEWHERE, has_admission=False, note=None)
    assert caught.value.field == "note"
    check_lead_closure(
        outcome=LeadOutcome.REFERRED_ELSEWHERE, has_admission=False, note="转交光山县救助站"
    )


# ---- times staff type in -------------------------------------------------------------


def test_a_time_is_neither_in_the_future_nor_before_what_it_follows():
    check_moment("discharged_at", NOW, now=NOW, not_before=NOW - timedelta(days=3))
    with pytest.raises(Refused) as caught:
        check_moment("placed_at", NOW + timedelta(hours=1), now=NOW)
    assert caught.value.field == "placed_at"
    with pytest.raises(Refused) as caught:
        check_moment(
            "discharged_at",
            NOW - timedelta(days=4),
            now=NOW,
            not_before=NOW - timedelta(days=3),
            not_before_what="the placement",
        )
    assert caught.value.reason == "is before the placement"
