"""Escort planning rules (DOMAIN.md, "The life of a case", 4), without I/O."""

from __future__ import annotations

import base64

import pytest

from rescue_chassis.refusals import Refused
from rescue_localnet.demo import signature_png
from transfer.domain import (
    MAX_SIGNATURE_BYTES,
    EscortMember,
    Leg,
    ReturnStatus,
    Traveller,
    check_escort_plan,
    decode_signature,
    escort_finished,
    needs_medical_escort,
)

ESCORT_MAN = EscortMember("赵强", "male", "escort")
ESCORT_WOMAN = EscortMember("陈敏", "female", "escort")
NURSE = EscortMember("刘芳", "female", "medical")
DRIVER = EscortMember("孙师傅", "male", "driver")
ONE_LEG = [Leg("信阳站", "南充站")]


def traveller(n: int = 1, **overrides) -> Traveller:
    values = dict(
        return_id=f"r{n}",
        status=ReturnStatus.PENDING,
        escort_station_id="center",
        destination_province="四川省",
        sex="male",
        categories=frozenset(),
        fit_to_travel=True,
        medical_escort_required=False,
    )
    return Traveller(**(values | overrides))


def refusal(**plan) -> Refused:
    plan = {
        "planning_station": "center",
        "travellers": [traveller()],
        "staff": [ESCORT_MAN],
        "legs": ONE_LEG,
    } | plan
    with pytest.raises(Refused) as refused:
        check_escort_plan(**plan)
    return refused.value


def test_two_persons_to_one_province_make_one_batch_even_spelled_differently():
    batch = [traveller(1), traveller(2, destination_province="四川")]
    destination = check_escort_plan(
        planning_station="center", travellers=batch, staff=[ESCORT_MAN], legs=ONE_LEG
    )
    assert destination == "四川省"


def test_a_batch_goes_to_one_province():
    error = refusal(travellers=[traveller(1), traveller(2, destination_province="贵州省")])
    assert error.field == "return_ids"
    assert "one destination province" in error.reason


def test_only_the_escorting_station_plans_its_returns():
    error = refusal(planning_station="gushi")
    assert (error.field, error.reason) == ("return_ids", "return r1 is escorted by center")


@pytest.mark.parametrize(
    "status", [ReturnStatus.PLANNED, ReturnStatus.IN_TRANSIT, ReturnStatus.HANDED_OVER]
)
def test_a_return_already_on_an_escort_cannot_be_planned_again(status):
    assert refusal(travellers=[traveller(status=status)]).reason == f"return r1 is {status.value}"


def test_a_person_not_fit_to_travel_is_not_planned():
    assert refusal(travellers=[traveller(fit_to_travel=False)]).reason.endswith("not fit to travel")


def test_fitness_not_yet_assessed_does_not_block_planning():
    plan = dict(staff=[ESCORT_MAN], legs=ONE_LEG, planning_station="center")
    assert check_escort_plan(travellers=[traveller(fit_to_travel=None)], **plan) == "四川省"


def test_a_person_whose_admission_has_not_arrived_is_not_planned_blind():
    assert "not reached transfer" in refusal(travellers=[traveller(sex=None)]).reason


def test_a_woman_or_girl_travels_with_a_female_escort():
    error = refusal(travellers=[traveller(sex="female")], staff=[ESCORT_MAN, DRIVER])
    assert error.field == "staff" and "female escort" in error.reason
    # a female driver is not an escort
    female_driver = EscortMember("王丽", "female", "driver")
    assert refusal(travellers=[traveller(sex="female")], staff=[ESCORT_MAN, female_driver])
    assert check_escort_plan(
        planning_station="center",
        travellers=[traveller(sex="female")],
        staff=[ESCORT_MAN, ESCORT_WOMAN],
        legs=ONE_LEG,
    )


@pytest.mark.parametrize("category", ["mental_illness", "dementia", "pregnant"])
def test_the_sick_travel_with_a_medical_escort(category):
    sick = traveller(categories=frozenset({category}))
    assert needs_medical_escort(sick)
    error = refusal(travellers=[sick], staff=[ESCORT_MAN])
    assert error.field == "staff" and "medical escort" in error.reason
    assert check_escort_plan(
        planning_station="center", travellers=[sick], staff=[ESCORT_MAN, NURSE], legs=ONE_LEG
    )


def test_staff_can_require_a_medical_escort_for_anyone():
    flagged = traveller(medical_escort_required=True)
    assert needs_medical_escort(flagged)
    assert refusal(travellers=[flagged], staff=[ESCORT_MAN]).field == "staff"
    assert not needs_medical_escort(traveller(categories=frozenset({"elderly"})))


def test_a_driver_alone_is_no_escort():
    error = refusal(staff=[DRIVER])
    assert (error.field, error.reason) == ("staff", "at least one escort staff member is needed")


def test_itinerary_legs_are_contiguous():
    legs = [Leg("信阳站", "南充站"), Leg("成都站", "仪陇县")]
    error = refusal(legs=legs)
    assert error.field == "legs.1.origin"
    assert "南充站" in error.reason
    assert refusal(legs=[]).field == "legs"


def test_an_escort_needs_someone_to_carry():
    assert refusal(travellers=[]).field == "return_ids"


def test_a_signature_is_a_base64_png_of_bounded_size():
    image = decode_signature(signature_png())
    assert image.startswith(b"\x89PNG")
    assert decode_signature(base64.b64encode(image).decode()) == image
    assert _signature_refusal("not base64!").reason == "is not base64"
    jpeg = base64.b64encode(b"\xff\xd8\xff\xe0" + b"0" * 100).decode()
    assert _signature_refusal(jpeg).reason == "is not a PNG image"
    huge = base64.b64encode(image[:8] + b"0" * MAX_SIGNATURE_BYTES).decode()
    assert "larger than" in _signature_refusal(huge).reason


def _signature_refusal(encoded: str) -> Refused:
    with pytest.raises(Refused) as refused:
        decode_signature(encoded)
    assert refused.value.field == "signature_png"
    return refused.value


def test_an_escort_is_finished_when_everyone_is_handed_over_or_refused():
    assert escort_finished([ReturnStatus.HANDED_OVER, ReturnStatus.REFUSED])
    assert not escort_finished([ReturnStatus.HANDED_OVER, ReturnStatus.IN_TRANSIT])
