"""Return stabilisation rules (DOMAIN.md, "The life of a case", 6), without I/O."""

from __future__ import annotations

from datetime import date, timedelta

import pytest

from followup.domain import (
    at_risk_reasons,
    check_closing,
    identity_key,
    jurisdiction,
    overdue_level,
    rate,
)
from rescue_chassis.refusals import Refused

DUE = date(2026, 3, 1)


def test_a_revisit_is_overdue_from_the_day_after_it_was_due_and_escalates_two_weeks_later():
    assert overdue_level(DUE, DUE) is None
    assert overdue_level(DUE, DUE + timedelta(days=1)) == "overdue"
    assert overdue_level(DUE, DUE + timedelta(days=14)) == "overdue"
    assert overdue_level(DUE, DUE + timedelta(days=15)) == "escalated"


@pytest.mark.parametrize(
    ("code", "town"),
    [
        ("511324105", "511324105"),  # a town
        ("511324105201", "511324105"),  # a village belongs to its town
        ("511324", "511324"),  # only the county is known
        (None, None),
    ],
)
def test_revisits_go_to_the_home_town_or_else_the_county(code, town):
    assert jurisdiction(code) == town


def test_mental_disorders_dementia_and_disabilities_enter_the_register_by_themselves():
    assert at_risk_reasons(["elderly", "dementia", "disabled"]) == ["dementia", "disabled"]
    assert at_risk_reasons(["mental_illness"]) == ["mental_illness"]
    assert at_risk_reasons(["elderly", "domestic_violence_victim"]) == []


def test_the_same_person_is_the_same_name_at_the_same_home():
    assert identity_key("李 建国", "511324105", "x") == identity_key("李建国", "511324105", "y")
    assert identity_key("李建国", "511324105", "x") != identity_key("李建国", "511324106", "x")
    # without a code, the address decides (full-width and spaces do not)
    assert identity_key("李建国", None, "四川省 仪陇县") == identity_key(
        "李建国", None, "四川省仪陇县"
    )


def closing(**overrides):
    values = dict(
        handed_over_on=date(2025, 1, 10),
        today=date(2026, 1, 10),
        revisit_statuses=["done"] * 6,
        last_situation="stable",
    )
    check_closing(**(values | overrides))


def test_a_record_closes_after_a_stable_year():
    closing()  # a year, every revisit made, stable: no refusal
    with pytest.raises(Refused, match="year"):
        closing(today=date(2026, 1, 9))
    with pytest.raises(Refused, match="every revisit"):
        closing(revisit_statuses=["done"] * 5 + ["overdue"])
    with pytest.raises(Refused, match="stable"):
        closing(last_situation="living_difficulty")


def test_rates_are_none_without_a_denominator():
    assert rate(1, 4) == 0.25
    assert rate(0, 0) is None
