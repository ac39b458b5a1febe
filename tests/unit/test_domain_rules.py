from datetime import UTC, date, datetime, timedelta

import pytest

from followup.domain import add_months, revisit_schedule
from intake.domain import check_admission
from rescue_chassis.network import load_network
from rescue_chassis.refusals import Refused
from rescue_events.contracts import ArrivalRoute, PersonCategory
from search.domain import notice_due_at, notice_overdue
from transfer.domain import escort_station

NOW = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)
network = load_network()


def admit(
    route=ArrivalRoute.STREET_PATROL, categories=(), consent=True, handover=True, arrived_at=NOW
):
    check_admission(
        route=route,
        categories=set(categories),
        consent_given=consent,
        has_handover_record=handover,
        arrived_at=arrived_at,
        now=NOW,
    )


def test_street_patrol_escort_needs_a_written_handover_record():
    with pytest.raises(Refused) as refused:
        admit(handover=False)
    assert refused.value.field == "handover"


def test_escorting_a_capable_adult_needs_consent():
    with pytest.raises(Refused) as refused:
        admit(consent=None)
    assert refused.value.field == "consent_given"


@pytest.mark.parametrize(
    "category", [PersonCategory.MINOR, PersonCategory.DEMENTIA, PersonCategory.MENTAL_ILLNESS]
)
def test_persons_not_presumed_capable_are_escorted_without_consent(category):
    admit(categories=[category], consent=None)


def test_own_request_needs_neither_handover_nor_consent_flag():
    admit(route=ArrivalRoute.OWN_REQUEST, consent=None, handover=False)


def test_arrival_in_the_future_is_refused():
    with pytest.raises(Refused) as refused:
        admit(arrived_at=NOW + timedelta(hours=1))
    assert refused.value.field == "arrived_at"


def test_family_search_notice_is_due_24_hours_after_arrival():
    assert notice_due_at(NOW) == NOW + timedelta(hours=24)
    assert not notice_overdue(NOW, None, NOW)
    assert notice_overdue(NOW, None, NOW + timedelta(seconds=1))
    assert not notice_overdue(NOW, NOW, NOW + timedelta(days=3))


def test_revisits_every_two_months_for_a_year():
    handed_over = date(2026, 11, 23)
    dues = revisit_schedule(handed_over)
    assert len(dues) == 6
    gaps = [handed_over, *dues]
    assert all(add_months(a, 2) >= b for a, b in zip(gaps, gaps[1:], strict=False))
    assert dues[-1] == date(2027, 11, 23)


def test_revisit_dates_clamp_to_the_end_of_short_months():
    assert revisit_schedule(date(2026, 12, 31))[0] == date(2027, 2, 28)
    assert add_months(date(2027, 12, 31), 2) == date(2028, 2, 29)


def test_center_takes_over_cross_province_returns_of_satellites():
    assert escort_station(network, "gushi", cross_province=True) == "center"
    assert escort_station(network, "gushi", cross_province=False) == "gushi"


def test_province_names_compare_with_or_without_suffix():
    assert not network.is_cross_province("gushi", "河南")
    assert not network.is_cross_province("gushi", "河南省")
    assert network.is_cross_province("gushi", "四川省")
